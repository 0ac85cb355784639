/**
 * Prometheus metrics of the API process, on a private prom-client registry (so several apps in one process, e.g.
 * tests, never collide), served as `GET /metrics`:
 *
 * - `http_requests_total{method,route,status}` (counter) and
 *   `http_request_duration_seconds{method,route,status}` (histogram), recorded when each response finishes;
 *   `route` is the Express route pattern (`/v1/conversations/:id`), never the raw URL, so ids don't explode the
 *   number of series; requests no route matched get `route="unmatched"`.
 * - `sse_open_streams` (gauge): open server-sent-event streams, moved by {@link ApiMetrics.sseOpened} and
 *   {@link ApiMetrics.sseClosed}.
 * - prom-client's default process metrics (CPU, memory, event loop lag, GC, handles, …).
 *
 * @example
 * const metrics = createApiMetrics();
 * app.use(metrics.middleware);          // first, so every request is counted
 * app.get('/metrics', metrics.handler);
 * // in an SSE handler:
 * metrics.sseOpened();
 * res.on('close', () => metrics.sseClosed());
 */
import type { Request, RequestHandler, Response } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The API's metrics: the registry, the middleware that records requests, the SSE gauge and the `/metrics` handler. */
export interface ApiMetrics {
  /** The private registry holding every series below and the default process metrics. */
  registry: Registry;
  /** Records every request's count and duration when its response finishes; mount it before the routes. */
  middleware: RequestHandler;
  /** Call when a server-sent-event stream opens (increments `sse_open_streams`). */
  sseOpened(): void;
  /** Call when a server-sent-event stream closes (decrements `sse_open_streams`). */
  sseClosed(): void;
  /** Serves the registry in the Prometheus text format; mount as `GET /metrics`. */
  handler: RequestHandler;
}

/** The `route` label of requests that no Express route matched (404s, static files, middleware-only answers). */
export const UNMATCHED_ROUTE = 'unmatched';

/** Histogram buckets in seconds: fast JSON calls up to long synchronous turns (API_TURN_TIMEOUT_MS is 120 s). */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

const LABELS = ['method', 'route', 'status'] as const;

/**
 * The route pattern of a finished request: the matched route's path joined to the router's mount path
 * (`req.baseUrl`), e.g. `/v1` + `/conversations/:id`; {@link UNMATCHED_ROUTE} when no route matched.
 */
export function routeLabel(req: Request): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  const path = route?.path;
  if (path === undefined || path === null) return UNMATCHED_ROUTE;
  const pattern = Array.isArray(path) ? path.map(String).join('|') : String(path);
  const joined = `${req.baseUrl ?? ''}${pattern === '/' && req.baseUrl ? '' : pattern}`;
  return joined === '' ? '/' : joined;
}

/** Creates the API metrics on a fresh private registry (with prom-client's default process metrics). */
export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests handled by the API, by method, route pattern and status code.',
    labelNames: LABELS,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving an HTTP request to finishing its response, by method, route pattern and status code.',
    labelNames: LABELS,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const sseStreams = new Gauge({
    name: 'sse_open_streams',
    help: 'Server-sent-event streams currently open.',
    registers: [registry],
  });

  const middleware: RequestHandler = (req: Request, res: Response, next) => {
    const start = process.hrtime.bigint();
    let recorded = false;
    const record = (): void => {
      if (recorded) return;
      recorded = true;
      const labels = { method: req.method, route: routeLabel(req), status: String(res.statusCode) };
      requests.inc(labels);
      duration.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
    };
    res.on('finish', record);
    // A response the client abandoned (e.g. an SSE stream it disconnected from) never finishes: record it on close.
    res.on('close', record);
    next();
  };

  const handler: RequestHandler = (_req, res, next) => {
    registry.metrics().then((text) => {
      res.status(200).set('Content-Type', registry.contentType).set('Cache-Control', 'no-store').send(text);
    }, next);
  };

  return {
    registry,
    middleware,
    handler,
    sseOpened: () => sseStreams.inc(),
    sseClosed: () => sseStreams.dec(),
  };
}
