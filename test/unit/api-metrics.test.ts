import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { createApiMetrics, routeLabel, UNMATCHED_ROUTE, type ApiMetrics } from '../../src/api/metrics';

/** One sample of the Prometheus text exposition format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (0.0.4): `# HELP`/`# TYPE` lines and `name{label="value",...} value` samples. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    const body = m[2] ?? '';
    let consumed = 0;
    let lm: RegExpExecArray | null;
    while ((lm = labelRe.exec(body)) !== null) {
      labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
      consumed = labelRe.lastIndex;
    }
    assert.equal(consumed, body.length, `bad labels: ${line}`);
    const raw = m[3]!;
    samples.push({ name: m[1]!, labels, value: raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw) });
  }
  return { samples, types };
}

function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

describe('API metrics', () => {
  let metrics: ApiMetrics;
  let server: http.Server;
  let base: string;
  const openStreams = new Set<http.ServerResponse>();

  before(async () => {
    metrics = createApiMetrics();
    const app = express();
    app.use(metrics.middleware);
    app.get('/metrics', metrics.handler);
    const v1 = express.Router();
    v1.get('/conversations/:id', (req, res) => {
      res.json({ id: req.params.id });
    });
    v1.post('/conversations', (_req, res) => {
      res.status(201).json({ id: 'c-new' });
    });
    v1.get('/conversations/:id/events', (req, res) => {
      metrics.sseOpened();
      res.on('close', () => metrics.sseClosed());
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.write(`event: hello\ndata: ${JSON.stringify({ id: req.params.id })}\n\n`);
      openStreams.add(res);
    });
    app.use('/v1', v1);
    app.get('/', (_req, res) => {
      res.send('root');
    });
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const res of openStreams) res.end();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function scrape(): Promise<{ samples: Sample[]; types: Map<string, string> }> {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parseExposition(await res.text());
  }

  /** Waits until the request's response has finished on the server side, so the middleware has recorded it. */
  async function settle(): Promise<void> {
    await new Promise((r) => setTimeout(r, 20));
  }

  it('exposes the series with their types, and the default process metrics', async () => {
    const { types, samples } = await scrape();
    assert.equal(types.get('http_requests_total'), 'counter');
    assert.equal(types.get('http_request_duration_seconds'), 'histogram');
    assert.equal(types.get('sse_open_streams'), 'gauge');
    assert.equal(types.get('process_cpu_user_seconds_total'), 'counter');
    assert.equal(types.get('nodejs_eventloop_lag_seconds'), 'gauge');
    assert.equal(find(samples, 'process_resident_memory_bytes').length, 1);
    assert.deepEqual(find(samples, 'sse_open_streams'), [{ name: 'sse_open_streams', labels: {}, value: 0 }]);
  });

  it('labels requests with the route pattern, not the URL, so ids do not create series', async () => {
    for (const id of ['c-1', 'c-2', 'c-3']) {
      const res = await fetch(`${base}/v1/conversations/${id}`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { id });
    }
    const created = await fetch(`${base}/v1/conversations`, { method: 'POST' });
    assert.equal(created.status, 201);
    await created.arrayBuffer();
    await settle();
    const { samples } = await scrape();

    const byId = find(samples, 'http_requests_total', { route: '/v1/conversations/:id' });
    assert.deepEqual(byId, [
      { name: 'http_requests_total', labels: { method: 'GET', route: '/v1/conversations/:id', status: '200' }, value: 3 },
    ]);
    assert.deepEqual(find(samples, 'http_requests_total', { method: 'POST' }), [
      { name: 'http_requests_total', labels: { method: 'POST', route: '/v1/conversations', status: '201' }, value: 1 },
    ]);
    const routes = new Set(find(samples, 'http_requests_total').map((s) => s.labels.route));
    for (const route of routes) assert.ok(!/c-\d/.test(route ?? ''), `an id leaked into a route label: ${route}`);

    const count = find(samples, 'http_request_duration_seconds_count', { route: '/v1/conversations/:id' });
    assert.equal(count.length, 1);
    assert.deepEqual(count[0]!.labels, { method: 'GET', route: '/v1/conversations/:id', status: '200' });
    assert.equal(count[0]!.value, 3);
    const inf = find(samples, 'http_request_duration_seconds_bucket', { route: '/v1/conversations/:id', le: '+Inf' });
    assert.equal(inf[0]?.value, 3);
    const sum = find(samples, 'http_request_duration_seconds_sum', { route: '/v1/conversations/:id' });
    assert.ok(sum[0]!.value > 0 && sum[0]!.value < 5, `duration sum ${sum[0]!.value}`);
  });

  it('labels unknown paths "unmatched" with their status, and top-level routes with their path', async () => {
    for (const path of ['/nope/123', '/nope/456']) {
      const res = await fetch(base + path);
      assert.equal(res.status, 404);
      await res.arrayBuffer();
    }
    const root = await fetch(`${base}/`);
    await root.arrayBuffer();
    await settle();
    const { samples } = await scrape();
    assert.deepEqual(find(samples, 'http_requests_total', { route: UNMATCHED_ROUTE }), [
      { name: 'http_requests_total', labels: { method: 'GET', route: 'unmatched', status: '404' }, value: 2 },
    ]);
    assert.equal(find(samples, 'http_requests_total', { route: '/', status: '200' })[0]?.value, 1);
    // The scrapes themselves are counted under their own route.
    assert.ok((find(samples, 'http_requests_total', { route: '/metrics' })[0]?.value ?? 0) >= 1);
  });

  it('moves the SSE gauge up while a stream is open and back down when the client leaves', async () => {
    const req = http.get(`${base}/v1/conversations/c-9/events`);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', reject);
    });
    assert.equal(res.headers['content-type'], 'text/event-stream');
    await new Promise<void>((resolve) => res.once('data', () => resolve()));
    assert.equal(find((await scrape()).samples, 'sse_open_streams')[0]?.value, 1);

    req.destroy();
    let value = 1;
    for (let i = 0; i < 50 && value !== 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      value = find((await scrape()).samples, 'sse_open_streams')[0]?.value ?? NaN;
    }
    assert.equal(value, 0);
    // The abandoned stream is still counted once, under its route pattern.
    const events = find((await scrape()).samples, 'http_requests_total', { route: '/v1/conversations/:id/events' });
    assert.deepEqual(events.map((s) => [s.labels.status, s.value]), [['200', 1]]);
  });

  it('uses a private registry per instance', async () => {
    const other = createApiMetrics();
    other.sseOpened();
    const mine = await metrics.registry.getSingleMetric('sse_open_streams')?.get();
    const theirs = await other.registry.getSingleMetric('sse_open_streams')?.get();
    assert.equal(theirs?.values[0]?.value, 1);
    assert.equal(mine?.values[0]?.value, 0);
    other.sseClosed();
  });

  it('routeLabel joins the mount path and the route path', () => {
    const label = (baseUrl: string, path?: unknown): string =>
      routeLabel({ baseUrl, route: path === undefined ? undefined : { path } } as unknown as express.Request);
    assert.equal(label('', '/healthz'), '/healthz');
    assert.equal(label('/v1', '/conversations/:id'), '/v1/conversations/:id');
    assert.equal(label('/v1', '/'), '/v1');
    assert.equal(label('', '/'), '/');
    assert.equal(label('/v1'), 'unmatched');
    assert.equal(label('', ['/a', '/b']), '/a|/b');
  });
});
