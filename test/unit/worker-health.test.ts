import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startWorkerHealthServer, type WorkerHealthServer } from '../../src/observability/worker-health';

describe('worker health server', () => {
  let state = 'INITIALIZED';
  let status: unknown = { runState: 'INITIALIZED', numInFlightActivities: 0n };
  let server: WorkerHealthServer;
  let base: string;

  before(async () => {
    server = await startWorkerHealthServer({
      port: 0,
      host: '127.0.0.1',
      getState: () => state,
      getStatus: () => status,
    });
    base = `http://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server.close();
  });

  async function get(path: string, method = 'GET'): Promise<{ status: number; body: unknown; type: string | null }> {
    const res = await fetch(base + path, { method });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, type: res.headers.get('content-type') };
  }

  it('binds a free port when asked for port 0', () => {
    assert.ok(Number.isInteger(server.port) && server.port > 0, `port ${server.port}`);
  });

  it('is alive but not ready while the worker starts', async () => {
    state = 'INITIALIZED';
    assert.deepEqual(await get('/healthz'), {
      status: 200,
      body: { state: 'INITIALIZED' },
      type: 'application/json; charset=utf-8',
    });
    const ready = await get('/readyz');
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.body, { state: 'INITIALIZED', ready: false });
  });

  it('is ready only while RUNNING', async () => {
    state = 'RUNNING';
    assert.equal((await get('/readyz')).status, 200);
    assert.deepEqual((await get('/readyz')).body, { state: 'RUNNING', ready: true });
    for (const s of ['DRAINING', 'DRAINED', 'STOPPING', 'STOPPED', 'FAILED']) {
      state = s;
      assert.equal((await get('/readyz')).status, 503, `readyz in ${s}`);
    }
  });

  it('stays alive while draining and reports 503 on /healthz only when FAILED', async () => {
    for (const s of ['RUNNING', 'DRAINING', 'DRAINED', 'STOPPING', 'STOPPED']) {
      state = s;
      const res = await get('/healthz');
      assert.equal(res.status, 200, `healthz in ${s}`);
      assert.deepEqual(res.body, { state: s });
    }
    state = 'FAILED';
    assert.deepEqual((await get('/healthz')).status, 503);
    assert.deepEqual((await get('/healthz')).body, { state: 'FAILED' });
  });

  it('serves getStatus() as JSON on /status (bigint as a string)', async () => {
    state = 'RUNNING';
    status = { runState: 'RUNNING', numInFlightActivities: 3n, workflowPollerState: 'POLLING' };
    const res = await get('/status');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { runState: 'RUNNING', numInFlightActivities: '3', workflowPollerState: 'POLLING' });
  });

  it('ignores the query string and answers HEAD without a body', async () => {
    state = 'RUNNING';
    assert.equal((await get('/readyz?verbose=1')).status, 200);
    const head = await get('/healthz', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, undefined);
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    assert.equal((await get('/')).status, 404);
    assert.equal((await get('/metrics')).status, 404);
    assert.equal((await get('/healthz/extra')).status, 404);
    const post = await fetch(base + '/healthz', { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    await post.arrayBuffer();
  });

  it('reports 503 when getState throws, and 500 when getStatus throws', async () => {
    const failing = await startWorkerHealthServer({
      port: 0,
      host: '127.0.0.1',
      getState: () => {
        throw new Error('worker gone');
      },
    });
    try {
      const res = await fetch(`http://127.0.0.1:${failing.port}/healthz`);
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { state: 'UNKNOWN', error: 'worker gone' });
    } finally {
      await failing.close();
    }
    const broken = await startWorkerHealthServer({
      port: 0,
      host: '127.0.0.1',
      getState: () => 'RUNNING',
      getStatus: () => {
        throw new Error('no status');
      },
    });
    try {
      const res = await fetch(`http://127.0.0.1:${broken.port}/status`);
      assert.equal(res.status, 500);
      assert.deepEqual(await res.json(), { state: 'RUNNING', error: 'no status' });
    } finally {
      await broken.close();
    }
  });

  it('returns { state } on /status without getStatus, and close() is idempotent and frees the port', async () => {
    const plain = await startWorkerHealthServer({ port: 0, host: '127.0.0.1', getState: () => 'RUNNING' });
    const res = await fetch(`http://127.0.0.1:${plain.port}/status`);
    assert.deepEqual(await res.json(), { state: 'RUNNING' });
    await Promise.all([plain.close(), plain.close()]);
    await assert.rejects(fetch(`http://127.0.0.1:${plain.port}/healthz`));
  });

  it('rejects when the port is taken', async () => {
    await assert.rejects(
      startWorkerHealthServer({ port: server.port, host: '127.0.0.1', getState: () => 'RUNNING' }),
      /EADDRINUSE/,
    );
  });
});
