/**
 * The worker's health endpoints, on their own small `node:http` server (port `WORKER_HEALTH_PORT`, default 8081),
 * for container health checks and Kubernetes probes:
 *
 * - `GET /healthz` (liveness): 200 `{"state": ...}` while the process is alive, 503 once the worker state is `FAILED`.
 * - `GET /readyz` (readiness): 200 only while the worker state is `RUNNING`; 503 while starting, draining or stopped.
 * - `GET /status`: the JSON of `getStatus()` (e.g. the Temporal worker's `getStatus()`), or `{"state": ...}`.
 *
 * Any other path answers 404; a known path with a method other than GET or HEAD answers 405.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** The worker state in which `/readyz` reports ready (the Temporal worker's `getState()` value). */
export const READY_STATE = 'RUNNING';
/** The worker state in which `/healthz` reports unhealthy. */
export const FAILED_STATE = 'FAILED';

/** Options of {@link startWorkerHealthServer}. */
export interface WorkerHealthServerOptions {
  /** Port to listen on; 0 picks a free port (see {@link WorkerHealthServer.port}). */
  port: number;
  /** Interface to listen on; default: all interfaces, so container probes reach it. */
  host?: string;
  /** The worker's current state, e.g. `() => worker.getState()` (`INITIALIZED`, `RUNNING`, `DRAINING`, `FAILED`, …). */
  getState: () => string;
  /** Details for `/status`, e.g. `() => worker.getStatus()`; without it `/status` returns `{ state }`. */
  getStatus?: () => unknown;
}

/** A running health server. */
export interface WorkerHealthServer {
  /** The port it listens on (the bound one when 0 was asked for). */
  readonly port: number;
  /** Stops listening and closes open connections; resolves once the server is closed. */
  close(): Promise<void>;
}

const PATHS = new Set(['/healthz', '/readyz', '/status']);

/** `JSON.stringify` that also accepts bigint values (written as decimal strings, which keep their precision). */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

function send(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: unknown): void {
  const text = toJson(body) ?? 'null';
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : text);
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Starts the worker health server and resolves once it listens.
 *
 * @example
 * const health = await startWorkerHealthServer({
 *   port: cfg.WORKER_HEALTH_PORT,
 *   getState: () => worker.getState(),
 *   getStatus: () => worker.getStatus(),
 * });
 * // … on shutdown, after the worker stopped:
 * await health.close();
 */
export async function startWorkerHealthServer(opts: WorkerHealthServerOptions): Promise<WorkerHealthServer> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://worker-health.invalid').pathname;
    if (!PATHS.has(path)) {
      req.resume();
      return send(req, res, 404, { error: 'not found', paths: [...PATHS] });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      req.resume();
      res.setHeader('allow', 'GET, HEAD');
      return send(req, res, 405, { error: 'method not allowed' });
    }
    let state: string;
    try {
      state = opts.getState();
    } catch (e) {
      return send(req, res, 503, { state: 'UNKNOWN', error: errorMessage(e) });
    }
    switch (path) {
      case '/healthz':
        return send(req, res, state === FAILED_STATE ? 503 : 200, { state });
      case '/readyz':
        return send(req, res, state === READY_STATE ? 200 : 503, { state, ready: state === READY_STATE });
      default: {
        if (!opts.getStatus) return send(req, res, 200, { state });
        try {
          return send(req, res, 200, opts.getStatus());
        } catch (e) {
          return send(req, res, 500, { state, error: errorMessage(e) });
        }
      }
    }
  });
  // Probes are short requests; don't let idle keep-alive sockets hold the process open.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    const listening = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (opts.host === undefined) server.listen(opts.port, listening);
    else server.listen(opts.port, opts.host, listening);
  });

  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
