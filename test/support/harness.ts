/**
 * The one test helper that picks the server: TEMPORAL_ADDRESS (set by scripts/run-tests.ts, one dev server per
 * test run) or, when a file runs alone, a dev server of its own. Each stack gets its own task queue, scripted
 * model and worker.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { ConversationClient } from '../../src/checkpoints/conversation-client';
import { DEFAULT_SETTINGS, type ConversationSettings } from '../../src/workflows/handoff-conversation.definitions';
import { findTemporalCli, startDevServer, type DevServer } from '../../src/runtime/dev-server';
import { createConversationWorker } from '../../src/runtime/create-worker';
import { loadTeams, teamDirs } from '../../src/team-catalog';
import { startScriptedModel, type ScriptedModel } from '../../src/scripted-model/server';

// One runtime per test process, quiet unless something is wrong.
Runtime.install({ logger: new DefaultLogger('WARN') });

let server: Promise<{ address: string; dev: DevServer | null }> | null = null;

/** The Temporal address for this test process. */
export function temporalAddress(): Promise<string> {
  server ??= (async () => {
    const fromEnv = process.env.TEMPORAL_ADDRESS;
    if (fromEnv) return { address: fromEnv, dev: null };
    const dev = await startDevServer({ cli: findTemporalCli(process.env.TEMPORAL_CLI_PATH), headless: true });
    return { address: dev.address, dev };
  })();
  return server.then((s) => s.address);
}

/** Stops a dev server this process started (no-op under scripts/run-tests.ts). */
export async function stopTemporal(): Promise<void> {
  if (!server) return;
  const s = await server;
  await s.dev?.stop();
  server = null;
}

/** Test settings: short timeouts so failures show fast. */
export const TEST_SETTINGS: ConversationSettings = {
  ...DEFAULT_SETTINGS,
  modelTimeoutMs: 20_000,
  modelHeartbeatTimeoutMs: 4_000,
  toolTimeoutMs: 10_000,
  maxAttempts: 3,
};

/** Everything one test needs. */
export interface TestStack {
  address: string;
  taskQueue: string;
  client: Client;
  conversations: ConversationClient;
  model: ScriptedModel;
  /** Starts an in-process worker (another one if one runs). */
  startWorker(): Promise<Worker>;
  /** Stops every in-process worker of this stack. */
  stopWorkers(): Promise<void>;
  close(): Promise<void>;
}

/** Creates a stack: scripted model, unique task queue, client adapter, and (by default) a running worker. */
export async function createStack(opts: { settings?: Partial<ConversationSettings>; worker?: boolean; turnTimeoutMs?: number } = {}): Promise<TestStack> {
  const address = await temporalAddress();
  const model = await startScriptedModel({ port: 0, log: () => undefined });
  const taskQueue = `test-${randomUUID()}`;
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  const teams = loadTeams(teamDirs(undefined));
  const extraTeams = loadTeams([`${__dirname}/../fixtures/teams`]);
  for (const [k, v] of extraTeams) teams.set(k, v);
  const conversations = new ConversationClient({
    client,
    taskQueue,
    teams,
    defaultTeam: 'customer-support',
    settings: { ...TEST_SETTINGS, ...opts.settings },
    temporalTimeoutMs: 10_000,
    turnTimeoutMs: opts.turnTimeoutMs ?? 60_000,
    pollIntervalMs: 50,
  });
  const workers: { worker: Worker; running: Promise<void>; native: NativeConnection }[] = [];
  const startWorker = async () => {
    const native = await NativeConnection.connect({ address });
    const worker = await createConversationWorker({
      connection: native,
      namespace: 'default',
      taskQueue,
      model: { apiKey: 'test', baseURL: model.url, model: 'test-model', timeoutMs: 15_000 },
      shutdownGraceTimeMs: 2_000,
    });
    const running = worker.run();
    workers.push({ worker, running, native });
    return worker;
  };
  const stopWorkers = async () => {
    for (const w of workers.splice(0)) {
      if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
      await w.running.catch(() => undefined);
      await w.native.close().catch(() => undefined);
    }
  };
  if (opts.worker !== false) await startWorker();
  return {
    address,
    taskQueue,
    client,
    conversations,
    model,
    startWorker,
    stopWorkers,
    close: async () => {
      await stopWorkers();
      await model.close();
      await connection.close();
    },
  };
}

/** A config for child processes (worker / API) pointed at this stack. */
export function childEnv(stack: TestStack, extra: Record<string, string> = {}): Record<string, string> {
  loadConfig({}); // keeps this helper honest about the variable names
  return {
    PATH: process.env.PATH ?? '',
    TEMPORAL_ADDRESS: stack.address,
    TEMPORAL_TASK_QUEUE: stack.taskQueue,
    OPENAI_BASE_URL: stack.model.url,
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** A unique conversation id for a test. */
export function newConversationId(prefix = 'test'): string {
  return `${prefix}-${randomUUID()}`;
}

/** An in-process API over a stack, on a free port. */
export async function startHttp(
  stack: TestStack,
  opts: { maxBodyBytes?: number } = {},
): Promise<{ url: string; openStreams(): number; close(): Promise<void> }> {
  const { createApp } = await import('../../src/api/app');
  const sseStreams = new Set<import('express').Response>();
  const app = createApp({
    conversations: stack.conversations,
    log: () => undefined,
    maxBodyBytes: opts.maxBodyBytes ?? 1_048_576,
    webUiUrl: 'http://127.0.0.1:8233',
    sseStreams,
    ssePollMs: 50,
  });
  const server = await new Promise<import('node:http').Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const port = (server.address() as import('node:net').AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    openStreams: () => sseStreams.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of sseStreams) r.end();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** JSON over HTTP: returns status and parsed body. */
export async function http(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed };
}

/** The number of history events of a conversation's current run. */
export async function historyLength(stack: TestStack, conversationId: string): Promise<number> {
  const h = await stack.client.workflow.getHandle(conversationId).fetchHistory();
  return h.events?.length ?? 0;
}

// ---- Child processes (worker.ts / src/api/server.ts as real processes) ----

/** A spawned Node child process with the tail of its output. */
export interface ChildProc {
  name: string;
  proc: import('node:child_process').ChildProcess;
  /** Last lines of stdout/stderr (for assertions and failure messages). */
  output: string[];
  /** Resolves with the exit code and signal once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const liveChildren = new Set<ChildProc>();
let exitHookInstalled = false;

/** Whether a child has neither exited nor been killed by a signal. */
export function childRunning(c: ChildProc): boolean {
  return c.proc.exitCode === null && c.proc.signalCode === null;
}

/**
 * Spawns `node <args>` in the project root with exactly `env`. Every child is tracked: {@link killAllChildren}
 * kills the ones still running, and they are SIGKILLed when the test process exits.
 */
export function spawnChild(name: string, args: string[], env: Record<string, string>): ChildProc {
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const root = require('node:path').join(__dirname, '..', '..') as string;
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of liveChildren) if (childRunning(c)) c.proc.kill('SIGKILL');
    });
  }
  const proc = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const child: ChildProc = { name, proc, output, exited };
  liveChildren.add(child);
  void exited.then(() => liveChildren.delete(child));
  return child;
}

/** SIGKILLs a child if it still runs and waits until it is gone. */
export async function killChild(c: ChildProc): Promise<void> {
  if (childRunning(c)) c.proc.kill('SIGKILL');
  await c.exited;
}

/** SIGKILLs every child spawned by {@link spawnChild} that still runs. */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...liveChildren].map(killChild));
}

/** Polls `url` until it answers 200; fails early (with the child's output) if the child exits. */
export async function waitHealthy(c: ChildProc, url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!childRunning(c)) throw new Error(`${c.name} exited (${c.proc.exitCode ?? c.proc.signalCode}) before ${url} answered:\n${c.output.join('\n')}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`${c.name}: ${url} did not answer 200 within ${timeoutMs} ms:\n${c.output.join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Calls `fn` every `everyMs` until it returns something other than undefined; throws after `timeoutMs`. */
export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls `GET /v1/conversations/:id` until its status is `status`; returns the view. */
export async function waitSettled(apiUrl: string, conversationId: string, status = 'IDLE_WITH_PENDING_REQUESTS', timeoutMs = 60_000): Promise<any> {
  return waitUntil(
    `conversation ${conversationId} to reach ${status}`,
    async () => {
      const v = await http(`${apiUrl}/v1/conversations/${conversationId}`, 'GET');
      return v.status === 200 && v.body.status === status ? v.body : undefined;
    },
    timeoutMs,
    250,
  );
}
