/**
 * Production behaviour of the real processes: SIGTERM drains a worker (its in-flight activity finishes, nothing is
 * lost or repeated) and an API (its in-flight request finishes, new connections are refused); the custom search
 * attributes drive the conversation listing; the API and the worker expose the metrics docs/production.md lists.
 * Workers and APIs are child processes (`node --import tsx worker.ts` / `src/api/server.ts`) wherever a process
 * gets a signal or its own ports are scraped; every child is killed in `finally` and again in `after`.
 */
import assert from 'node:assert/strict';
import nodeHttp from 'node:http';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import type { ConversationEvent } from '../../src/domain/events';
import { freePort } from '../../src/runtime/dev-server';
import type { RecordedCall } from '../../src/scripted-model/server';
import {
  childEnv,
  childRunning,
  createStack,
  http,
  killAllChildren,
  newConversationId,
  spawnChild,
  startHttp,
  waitHealthy,
  waitSettled,
  waitUntil,
  type ChildProc,
  type TestStack,
} from '../support/harness';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface WorkerProc {
  child: ChildProc;
  healthUrl: string;
  metricsUrl: string;
}

/** Starts `worker.ts` as a child process on the stack's task queue; waits for `/readyz` unless `wait` is false. */
async function spawnWorker(stack: TestStack, name: string, extra: Record<string, string> = {}, wait = true): Promise<WorkerProc> {
  const [health, metrics] = [await freePort(), await freePort()];
  const child = spawnChild(
    name,
    ['--import', 'tsx', 'worker.ts'],
    childEnv(stack, { WORKER_HEALTH_PORT: String(health), WORKER_METRICS_PORT: String(metrics), ...extra }),
  );
  const w = { child, healthUrl: `http://127.0.0.1:${health}`, metricsUrl: `http://127.0.0.1:${metrics}` };
  if (wait) await waitHealthy(child, `${w.healthUrl}/readyz`);
  return w;
}

/** Starts `src/api/server.ts` as a child process and waits for `/healthz`. */
async function spawnApi(stack: TestStack, name: string): Promise<{ child: ChildProc; url: string; port: number }> {
  const port = await freePort();
  const child = spawnChild(name, ['--import', 'tsx', 'src/api/server.ts'], childEnv(stack, { PORT: String(port), HOST: '127.0.0.1' }));
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(child, `${url}/healthz`);
  return { child, url, port };
}

/** Resolves with the error code of a fresh TCP connection attempt (e.g. ECONNREFUSED), or 'CONNECTED'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.setTimeout(2_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve('CONNECTED');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('TIMEOUT');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** The body of a GET as text, with its status. */
async function getText(url: string): Promise<{ status: number; text: string; contentType: string | null }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, text: await res.text(), contentType: res.headers.get('content-type') };
}

/** One sample line's value: `name{labels} value`, matched on the name and every given label. */
function sampleValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

function summary(calls: RecordedCall[]): string {
  return JSON.stringify(calls.map((c) => ({ agent: c.agent, attempt: c.attempt, status: c.status, at: c.at })));
}

after(async () => {
  await killAllChildren();
});

describe('production', () => {
  it('SIGTERM drains a worker in the middle of a turn and another worker finishes the conversation with nothing lost', async () => {
    const GRACE_MS = 8_000;
    const MODEL_DELAY_MS = 3_000;
    const stack = await createStack({ worker: false });
    const api = await startHttp(stack);
    try {
      const a = await spawnWorker(stack, 'worker-A', { WORKER_SHUTDOWN_GRACE_MS: String(GRACE_MS) });
      const aPid = a.child.proc.pid!;
      const id = newConversationId('drain');
      const reply = 'Hello! Is this about an order or a refund?';
      stack.model.script(id, [
        { content: reply, delayMs: MODEL_DELAY_MS }, // worker A waits for this while it is told to stop
        { content: reply }, // only used if the attempt were cancelled and retried: the test then fails on the count
      ]);

      const post = http(`${api.url}/v1/conversations`, 'POST', { message: 'Hi there', conversationId: id }).catch((err: unknown) => ({
        status: -1,
        body: String(err),
      }));
      await waitUntil('the first model call', async () => (stack.model.calls(id).length > 0 ? true : undefined), 30_000, 25);
      const callAt = Date.now();

      // A rolling deploy: the replacement starts, the old worker is told to stop while its model call is in flight.
      const b = await spawnWorker(stack, 'worker-B', {}, false);
      const sigtermAt = Date.now();
      assert.ok(sigtermAt - callAt < MODEL_DELAY_MS - 500, `SIGTERM must come while the model call is in flight (${sigtermAt - callAt} ms after it)`);
      assert.ok(a.child.proc.kill('SIGTERM'));

      // While draining, A is no longer ready (its health server stays up until the drain is over).
      const draining = await waitUntil(
        'worker A /readyz to answer 503',
        async () => {
          const r = await http(`${a.healthUrl}/readyz`, 'GET');
          return r.status === 503 ? r.body : undefined;
        },
        MODEL_DELAY_MS,
        50,
      );
      assert.equal(draining.ready, false);
      assert.ok(['STOPPING', 'DRAINING', 'DRAINED'].includes(draining.state), `state while draining: ${JSON.stringify(draining)}`);

      const exit = await Promise.race([a.child.exited, sleep(GRACE_MS + 5_000).then(() => null)]);
      const exitMs = Date.now() - sigtermAt;
      assert.ok(exit, `worker A still running ${GRACE_MS + 5_000} ms after SIGTERM:\n${a.child.output.join('\n')}`);
      assert.deepEqual(exit, { code: 0, signal: null }, a.child.output.join('\n'));
      assert.ok(exitMs < GRACE_MS + 5_000, `exit took ${exitMs} ms`);
      assert.ok(
        a.child.output.some((l) => l.includes('"msg":"worker stopped"')),
        `worker A did not log "worker stopped":\n${a.child.output.join('\n')}`,
      );

      await waitHealthy(b.child, `${b.healthUrl}/readyz`);
      const settled = await waitSettled(api.url, id);
      const settleMs = Date.now() - sigtermAt;

      assert.deepEqual(
        settled.messages.map((m: any) => [m.author, m.text]),
        [
          ['user', 'Hi there'],
          ['triage', reply],
        ],
        'the reply is in the transcript exactly once',
      );
      assert.equal(settled.pendingRequests.length, 1);
      assert.equal(settled.pendingRequests[0].sourceExecutorId, 'triage');
      assert.equal(settled.pendingRequests[0].data.agentResponse.text, reply);

      const log = await stack.conversations.readEvents(id, 0);
      const seqs = log.events.map((e) => e.seq);
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'event seqs in order');
      assert.equal(new Set(seqs).size, seqs.length, 'no duplicate seqs');
      const outputs = log.events.filter((e): e is Extract<ConversationEvent, { type: 'output' }> => e.type === 'output');
      assert.deepEqual(
        outputs.map((e) => e.text),
        [reply],
      );
      assert.equal(log.events.filter((e) => e.type === 'executor_invoked').length, 1, 'one turn, not two');

      // Exactly one model call for the step: A finished its attempt during the drain, nothing was retried.
      const calls = stack.model.calls(id);
      assert.deepEqual(
        calls.map((c) => [c.agent, c.attempt, c.status]),
        [['triage', 1, 200]],
        `expected one call, attempt 1 (A's in-flight activity completed during the drain); got ${summary(calls)}`,
      );

      // History: one callModel activity (other activities, e.g. the input boundary, are not counted), started and
      // completed by worker A (its identity ends in :<pid>) after the SIGTERM; every workflow task that came after it
      // (the one that settles the turn) ran on worker B.
      const history = await stack.client.workflow.getHandle(id).fetchHistory();
      const events = history.events ?? [];
      const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'callModel');
      const callModelIds = new Set(scheduled.map((e) => Number(e.eventId)));
      const started = events.filter((e) => callModelIds.has(Number(e.activityTaskStartedEventAttributes?.scheduledEventId ?? -1)));
      const completed = events.filter((e) => callModelIds.has(Number(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? -1)));
      const otherOutcomes = events.filter((e) => {
        const x = e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes;
        return x && callModelIds.has(Number(x.scheduledEventId));
      });
      const dump = JSON.stringify(
        events.map((e) => {
          const attrs = Object.entries(e).find(([k, v]) => k.endsWith('Attributes') && v)?.[1] as Record<string, any> | undefined;
          const at = Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6) - sigtermAt;
          return [Number(e.eventId), e.eventType, at, attrs?.identity ?? '', attrs?.attempt ?? '', attrs?.activityType?.name ?? '', attrs?.failure?.message ?? ''];
        }),
      );
      const who = `A pid ${aPid}, B pid ${b.child.proc.pid}; history [id, type, ms after SIGTERM, identity, attempt, activity, failure]: ${dump}`;
      assert.equal(scheduled.length, 1, `one callModel activity; ${who}`);
      assert.equal(started.length, 1, who);
      assert.equal(completed.length, 1, who);
      assert.equal(otherOutcomes.length, 0, who);
      assert.equal(started[0]!.activityTaskStartedEventAttributes!.attempt, 1);
      const aIdentity = started[0]!.activityTaskStartedEventAttributes!.identity!;
      assert.ok(aIdentity.endsWith(`:${aPid}`), `activity started by ${aIdentity}; ${who}`);
      assert.equal(completed[0]!.activityTaskCompletedEventAttributes!.identity, aIdentity, `worker A completed the activity; ${who}`);
      const completedAt = Number(completed[0]!.eventTime!.seconds) * 1000 + Math.floor((completed[0]!.eventTime!.nanos ?? 0) / 1e6);
      assert.ok(completedAt >= sigtermAt - 250, `the activity completed ${sigtermAt - completedAt} ms before SIGTERM; ${who}`);
      const completedId = Number(completed[0]!.eventId);
      const wftAfter = events.filter((e) => Number(e.eventId) > completedId && e.workflowTaskCompletedEventAttributes);
      assert.ok(wftAfter.length > 0, who);
      assert.ok(
        wftAfter.every((e) => e.workflowTaskCompletedEventAttributes!.identity!.endsWith(`:${b.child.proc.pid}`)),
        `worker B (pid ${b.child.proc.pid}) ran every workflow task after the activity: ${wftAfter.map((e) => e.workflowTaskCompletedEventAttributes!.identity).join(', ')}`,
      );

      const first = await post;
      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(first.body.status, 'IDLE_WITH_PENDING_REQUESTS');
      assert.equal(first.body.events.filter((e: any) => e.type === 'output').length, 1);
      console.log(`worker drain: exit ${exitMs} ms after SIGTERM (state ${draining.state}), settled after ${settleMs} ms`);
    } finally {
      await killAllChildren();
      await api.close();
      await stack.close();
    }
  });

  it('a running API receiving SIGTERM finishes its in-flight request', async () => {
    const stack = await createStack();
    try {
      const api = await spawnApi(stack, 'api');
      const id = newConversationId('api-drain');
      const reply = 'Hello! How can I help you today?';
      stack.model.script(id, [{ content: reply, delayMs: 2_000 }]);

      const postAt = Date.now();
      const post = http(`${api.url}/v1/conversations`, 'POST', { message: 'Hi', conversationId: id }).catch((err: unknown) => ({
        status: -1,
        body: String(err),
      }));
      await waitUntil('the model call', async () => (stack.model.calls(id).length > 0 ? true : undefined), 30_000, 25);
      await sleep(Math.max(0, 500 - (Date.now() - postAt)));
      const sigtermAt = Date.now();
      assert.ok(api.child.proc.kill('SIGTERM'));

      // Not listening any more, but still running: a new connection is refused while the POST is in flight.
      await sleep(200);
      assert.ok(childRunning(api.child), `the API exited before its in-flight request finished:\n${api.child.output.join('\n')}`);
      assert.equal(await tryConnect(api.port), 'ECONNREFUSED');

      const res = await post;
      const postDoneAt = Date.now();
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.conversationId, id);
      assert.equal(res.body.status, 'IDLE_WITH_PENDING_REQUESTS');
      assert.ok(Array.isArray(res.body.events) && res.body.events.length > 0);
      assert.deepEqual(
        res.body.events.filter((e: any) => e.type === 'output').map((e: any) => e.text),
        [reply],
      );
      assert.equal(res.body.pendingRequests.length, 1);
      assert.ok(postDoneAt - postAt >= 2_000, `the POST returned after ${postDoneAt - postAt} ms, before the 2 s model reply`);

      const exit = await Promise.race([api.child.exited, sleep(10_000).then(() => null)]);
      assert.ok(exit, `the API still runs 10 s after its last request finished:\n${api.child.output.join('\n')}`);
      assert.deepEqual(exit, { code: 0, signal: null }, api.child.output.join('\n'));
      console.log(`API drain: POST answered ${postDoneAt - sigtermAt} ms after SIGTERM, exit ${Date.now() - sigtermAt} ms after SIGTERM`);

      // The conversation is intact in Temporal.
      const state = await stack.conversations.state(id);
      assert.equal(state.status, 'IDLE_WITH_PENDING_REQUESTS');
      assert.deepEqual(
        state.messages.map((m) => m.text),
        ['Hi', reply],
      );
    } finally {
      await killAllChildren();
      await stack.close();
    }
  });

  it('a client that keeps its keep-alive connection busy does not keep a draining API alive', async () => {
    // A proxy or load balancer in front of the API pools keep-alive connections and reuses them back to back.
    const stack = await createStack();
    const agent = new nodeHttp.Agent({ keepAlive: true, maxSockets: 1 });
    const request = (method: string, path: string, port: number, body?: unknown) =>
      new Promise<{ status: number; connection: string | undefined; body: string } | { error: string }>((resolve) => {
        const req = nodeHttp.request(
          { host: '127.0.0.1', port, path, method, agent, headers: body === undefined ? {} : { 'content-type': 'application/json' } },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: text }));
          },
        );
        req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    try {
      const api = await spawnApi(stack, 'api-keep-alive');
      const id = newConversationId('keep-alive');
      stack.model.script(id, [{ content: 'Hello! How can I help you today?', delayMs: 2_000 }]);
      const post = request('POST', '/v1/conversations', api.port, { message: 'Hi', conversationId: id });
      await waitUntil('the model call', async () => (stack.model.calls(id).length > 0 ? true : undefined), 30_000, 25);
      await sleep(300);
      const sigtermAt = Date.now();
      assert.ok(api.child.proc.kill('SIGTERM'));

      const res = await post;
      const postDoneAt = Date.now();
      assert.ok('status' in res, JSON.stringify(res));
      assert.equal(res.status, 201, res.body);

      // The client keeps using its pooled connection, as a proxy would.
      let servedAfterPost = 0;
      let lastOutcome = '';
      while (childRunning(api.child) && Date.now() - postDoneAt < 8_000) {
        const r = await request('GET', '/healthz', api.port);
        lastOutcome = JSON.stringify(r);
        if (!('status' in r)) break;
        servedAfterPost += 1;
        await sleep(100);
      }
      const exit = await Promise.race([api.child.exited, sleep(Math.max(0, postDoneAt + 8_000 - Date.now())).then(() => null)]);
      const exitMs = Date.now() - postDoneAt;
      assert.ok(
        exit !== null && exitMs <= 5_000,
        `the API was still running ${exitMs} ms after its in-flight request finished (SIGTERM ${postDoneAt - sigtermAt} ms before that): ` +
          `it answered the in-flight POST with "connection: ${res.connection}" and then served ${servedAfterPost} more requests on the same ` +
          `keep-alive connection (last: ${lastOutcome}); only the 25 s force timer of src/api/server.ts ends such a connection`,
      );
      assert.deepEqual(exit, { code: 0, signal: null });
    } finally {
      agent.destroy();
      await killAllChildren();
      await stack.close();
    }
  });

  it('search attributes list waiting conversations and drop ended ones', async () => {
    const stack = await createStack();
    const api = await startHttp(stack);
    try {
      const id = newConversationId('listed');
      stack.model.script(id, [{ content: 'Hello! Is this about an order or a refund?' }]);
      const start = await http(`${api.url}/v1/conversations`, 'POST', { message: 'Hi', conversationId: id });
      assert.equal(start.status, 201, JSON.stringify(start.body));
      assert.equal(start.body.status, 'IDLE_WITH_PENDING_REQUESTS');
      const ask = start.body.pendingRequests[0];

      const waitingUrl = `${api.url}/v1/conversations?status=IDLE_WITH_PENDING_REQUESTS&team=customer-support`;
      const listed = await waitUntil(
        'the conversation in the waiting list',
        async () => {
          const r = await http(waitingUrl, 'GET');
          assert.equal(r.status, 200, JSON.stringify(r.body));
          return (r.body.conversations as any[]).find((c) => c.conversationId === id);
        },
        10_000,
        250,
      );
      assert.equal(listed.status, 'IDLE_WITH_PENDING_REQUESTS');
      assert.equal(listed.pendingRequests, 1);
      assert.equal(listed.activeAgent, 'triage');
      assert.equal(listed.team, 'customer-support');
      assert.ok(!Number.isNaN(Date.parse(listed.startTime)), listed.startTime);
      assert.equal(listed.links.webUi, `http://127.0.0.1:8233/namespaces/default/workflows/${id}`);

      // Without a status filter: running conversations only; it is running.
      const running = await http(`${api.url}/v1/conversations`, 'GET');
      assert.equal(running.status, 200);
      assert.ok((running.body.conversations as any[]).some((c) => c.conversationId === id), 'listed as running');

      // An empty list ends the conversation.
      const end = await http(`${api.url}/v1/conversations/${id}/responses`, 'POST', { responses: { [ask.requestId]: [] } });
      assert.equal(end.status, 200, JSON.stringify(end.body));
      assert.equal(end.body.status, 'IDLE');
      assert.equal(end.body.pendingRequests.length, 0);

      await waitUntil(
        'the ended conversation to leave both listings',
        async () => {
          const [all, waiting] = await Promise.all([http(`${api.url}/v1/conversations`, 'GET'), http(`${api.url}/v1/conversations?status=IDLE_WITH_PENDING_REQUESTS`, 'GET')]);
          assert.equal(all.status, 200);
          assert.equal(waiting.status, 200);
          const present = [...all.body.conversations, ...waiting.body.conversations].some((c: any) => c.conversationId === id);
          return present ? undefined : true;
        },
        10_000,
        250,
      );
      // … and it is listed as ENDED when asked for.
      const ended = await waitUntil(
        'the conversation under status=ENDED',
        async () => {
          const r = await http(`${api.url}/v1/conversations?status=ENDED&team=customer-support`, 'GET');
          return (r.body.conversations as any[]).find((c) => c.conversationId === id);
        },
        10_000,
        250,
      );
      assert.equal(ended.status, 'ENDED');
      assert.equal(ended.pendingRequests, 0);

      for (const q of ['status=bad%20value', 'team=bad%20value', "status=IDLE'%20OR%20'1'='1"]) {
        const bad = await http(`${api.url}/v1/conversations?${q}`, 'GET');
        assert.equal(bad.status, 400, `${q}: ${JSON.stringify(bad.body)}`);
        assert.equal(bad.body.error.code, 'INVALID_BODY', q);
        assert.match(bad.body.error.message, new RegExp(`^${q.split('=')[0]}: `), q);
      }
    } finally {
      await api.close();
      await stack.close();
    }
  });

  it('API and worker /metrics expose the documented series', async () => {
    const stack = await createStack({ worker: false });
    try {
      const [worker, api] = await Promise.all([spawnWorker(stack, 'worker-metrics'), spawnApi(stack, 'api-metrics')]);

      const ready = await http(`${worker.healthUrl}/readyz`, 'GET');
      assert.equal(ready.status, 200, JSON.stringify(ready.body));
      assert.deepEqual(ready.body, { state: 'RUNNING', ready: true });
      const live = await http(`${worker.healthUrl}/healthz`, 'GET');
      assert.equal(live.status, 200);
      assert.equal(live.body.state, 'RUNNING');

      const id = newConversationId('metrics');
      stack.model.script(id, [{ content: 'Hello! Is this about an order or a refund?' }]);
      const start = await http(`${api.url}/v1/conversations`, 'POST', { message: 'Hi', conversationId: id });
      assert.equal(start.status, 201, JSON.stringify(start.body));
      for (let i = 0; i < 2; i++) assert.equal((await http(`${api.url}/v1/conversations/${id}`, 'GET')).status, 200);
      assert.equal((await http(`${api.url}/v1/conversations/no-such-${id}`, 'GET')).status, 404);
      assert.equal((await http(`${api.url}/nowhere`, 'GET')).status, 404);

      // An open SSE stream moves the gauge.
      const sse = new AbortController();
      const stream = await fetch(`${api.url}/v1/conversations/${id}/events`, { signal: sse.signal });
      assert.equal(stream.status, 200);
      const reader = stream.body!.getReader();
      await reader.read(); // the stream is open once its first bytes arrive
      try {
        const open = await getText(`${api.url}/metrics`);
        assert.equal(open.status, 200);
        assert.match(open.contentType ?? '', /^text\/plain/);
        assert.equal(sampleValue(open.text, 'sse_open_streams', {}), 1, open.text.split('\n').filter((l) => l.startsWith('sse_')).join('\n'));
      } finally {
        sse.abort();
        await reader.cancel().catch(() => undefined);
      }
      const m = await waitUntil(
        'sse_open_streams back to 0',
        async () => {
          const r = await getText(`${api.url}/metrics`);
          return sampleValue(r.text, 'sse_open_streams', {}) === 0 ? r.text : undefined;
        },
        5_000,
        100,
      );

      assert.match(m, /^# TYPE http_requests_total counter$/m);
      assert.match(m, /^# TYPE http_request_duration_seconds histogram$/m);
      assert.match(m, /^# TYPE sse_open_streams gauge$/m);
      assert.ok(m.includes('http_requests_total{'));
      assert.equal(sampleValue(m, 'http_requests_total', { method: 'GET', route: '/v1/conversations/:id', status: '200' }), 2);
      assert.equal(sampleValue(m, 'http_requests_total', { method: 'GET', route: '/v1/conversations/:id', status: '404' }), 1);
      assert.equal(sampleValue(m, 'http_requests_total', { method: 'POST', route: '/v1/conversations', status: '201' }), 1);
      assert.equal(sampleValue(m, 'http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }), 1);
      assert.equal(sampleValue(m, 'http_requests_total', { method: 'GET', route: '/v1/conversations/:id/events', status: '200' }), 1);
      assert.ok(/^http_request_duration_seconds_bucket\{.*le="\+Inf".*route="\/v1\/conversations\/:id".*\} 2$/m.test(m) || /^http_request_duration_seconds_bucket\{.*route="\/v1\/conversations\/:id".*le="\+Inf".*\} \d+$/m.test(m), 'a +Inf bucket for the route');
      assert.ok(m.includes('http_request_duration_seconds_bucket{'));
      assert.ok(m.includes('http_request_duration_seconds_sum{'));
      assert.ok(m.includes('http_request_duration_seconds_count{'));
      assert.ok(!m.includes(id), 'conversation ids never become label values');
      assert.match(m, /^process_cpu_user_seconds_total /m);
      assert.match(m, /^nodejs_eventloop_lag_seconds /m);

      // The worker: Temporal SDK series on WORKER_METRICS_PORT.
      const w = await waitUntil(
        'temporal_ series on the worker metrics port',
        async () => {
          const r = await getText(`${worker.metricsUrl}/metrics`);
          return r.status === 200 && /^temporal_\w+/m.test(r.text) ? r : undefined;
        },
        10_000,
        250,
      );
      const names = [...new Set(w.text.split('\n').filter((l) => /^temporal_/.test(l)).map((l) => /^(\w+)/.exec(l)![1]!))].sort();
      assert.ok(names.length > 0);
      assert.ok(names.some((n) => n.startsWith('temporal_workflow_task_execution_latency')), names.join('\n'));
      assert.ok(names.some((n) => n.startsWith('temporal_activity_execution_latency')), names.join('\n'));
      assert.ok(names.includes('temporal_num_pollers'), names.join('\n'));
      assert.ok(w.text.includes(`task_queue="${stack.taskQueue}"`), 'series are labelled with the task queue');
      assert.ok(names.includes('temporal_worker_task_slots_available'), names.join('\n'));
      console.log(`worker metrics: ${names.length} temporal_ series: ${names.join(' ')}`);
    } finally {
      await killAllChildren();
      await stack.close();
    }
  });
});
