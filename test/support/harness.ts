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
export async function startHttp(stack: TestStack, opts: { maxBodyBytes?: number } = {}): Promise<{ url: string; close(): Promise<void> }> {
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
