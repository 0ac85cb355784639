/**
 * Crash recovery: workers and API processes die (SIGKILL, no drain) and the conversation carries on from Temporal
 * with nothing lost, nothing repeated, and the answer routed to the agent that asked. Workers and APIs here are
 * real child processes (`node --import tsx worker.ts` / `src/api/server.ts`) wherever a process has to die.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ConversationClient } from '../../src/checkpoints/conversation-client';
import type { ConversationEvent } from '../../src/domain/events';
import { freePort } from '../../src/runtime/dev-server';
import type { RecordedCall } from '../../src/scripted-model/server';
import {
  childEnv,
  childRunning,
  createStack,
  http,
  killAllChildren,
  killChild,
  newConversationId,
  spawnChild,
  startHttp,
  TEST_SETTINGS,
  waitHealthy,
  waitSettled,
  waitUntil,
  type ChildProc as Child,
  type TestStack,
} from '../support/harness';

/** Starts `worker.ts` as a child process on the stack's task queue and waits until `/readyz` says RUNNING. */
async function startWorkerProcess(stack: TestStack, name: string): Promise<Child> {
  const [health, metrics] = [await freePort(), await freePort()];
  const child = spawnChild(name, ['--import', 'tsx', 'worker.ts'], childEnv(stack, { WORKER_HEALTH_PORT: String(health), WORKER_METRICS_PORT: String(metrics) }));
  await waitHealthy(child, `http://127.0.0.1:${health}/readyz`);
  return child;
}

/** Starts `src/api/server.ts` as a child process and waits for `/healthz`. */
async function startApiProcess(stack: TestStack, name: string): Promise<{ child: Child; url: string; port: number }> {
  const port = await freePort();
  const child = spawnChild(name, ['--import', 'tsx', 'src/api/server.ts'], childEnv(stack, { PORT: String(port), HOST: '127.0.0.1' }));
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(child, `${url}/healthz`);
  return { child, url, port };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = waitUntil;
const running = childRunning;
const killHard = killChild;
const killAll = killAllChildren;

function countBy<T>(items: readonly T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

function assertStrictlyIncreasing(seqs: number[], what: string): void {
  for (let i = 1; i < seqs.length; i++) {
    assert.ok(seqs[i]! > seqs[i - 1]!, `${what}: seq ${seqs[i]} after ${seqs[i - 1]} (all: ${seqs.join(',')})`);
  }
  assert.equal(new Set(seqs).size, seqs.length, `${what}: duplicate seqs`);
}

/** The text of the last `role: user` message of a recorded model request. */
function lastUserText(call: RecordedCall): unknown {
  const users = (call.request.messages as { role?: string; content?: unknown }[]).filter((m) => m.role === 'user');
  return users.at(-1)?.content;
}

/** A step = one agent looking at one transcript length; the same step twice means a repeated model call. */
function stepKey(call: RecordedCall): string {
  return `${call.agent}@${call.request.messages.length}`;
}

function summary(calls: RecordedCall[]): string {
  return JSON.stringify(calls.map((c) => ({ agent: c.agent, attempt: c.attempt, status: c.status, messages: c.request.messages.length })));
}

after(async () => {
  await killAll();
});

describe('crash recovery', () => {
  it('a SIGKILLed worker loses nothing: a new worker and a different API process accept the answer', async () => {
    const stack = await createStack({ worker: false });
    try {
      const [worker1, apiA] = await Promise.all([startWorkerProcess(stack, 'worker-1'), startApiProcess(stack, 'api-A')]);

      const start = await http(`${apiA.url}/v1/conversations`, 'POST', { message: 'My order A-100 arrived damaged, I want a refund' });
      assert.equal(start.status, 201, JSON.stringify(start.body));
      const id = start.body.conversationId as string;
      assert.equal(start.body.status, 'IDLE_WITH_PENDING_REQUESTS');
      assert.equal(start.body.pendingRequests.length, 1);
      const ask = start.body.pendingRequests[0];
      assert.equal(ask.sourceExecutorId, 'refund');
      assert.equal(ask.requestType, 'HandoffAgentUserRequest');

      // Both processes die without any chance to drain or clean up.
      await Promise.all([killHard(worker1), killHard(apiA.child)]);
      assert.equal(worker1.proc.signalCode, 'SIGKILL');
      assert.equal(apiA.child.proc.signalCode, 'SIGKILL');

      const [worker2, apiB] = await Promise.all([startWorkerProcess(stack, 'worker-2'), startApiProcess(stack, 'api-B')]);
      assert.notEqual(apiB.port, apiA.port, 'API B is a different process on a different port');
      assert.ok(running(worker2));

      const yes = await http(`${apiB.url}/v1/conversations/${id}/responses`, 'POST', { responses: { [ask.requestId]: 'yes please' } });
      assert.equal(yes.status, 200, JSON.stringify(yes.body));
      assert.equal(yes.body.status, 'IDLE_WITH_PENDING_REQUESTS');
      assert.equal(yes.body.pendingRequests.length, 1);
      const approval = yes.body.pendingRequests[0];
      assert.equal(approval.requestType, 'FunctionApprovalRequest');
      assert.equal(approval.sourceExecutorId, 'refund');
      assert.equal(approval.data.tool, 'submit_refund');
      assert.deepEqual(approval.data.arguments, { order_id: 'A-100', amount: 249, reason: 'arrived damaged' });

      const ok = await http(`${apiB.url}/v1/conversations/${id}/responses`, 'POST', { responses: { [approval.requestId]: { approved: true } } });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.status, 'IDLE_WITH_PENDING_REQUESTS');
      const outputs = ok.body.events.filter((e: any) => e.type === 'output');
      assert.equal(outputs.length, 1, JSON.stringify(outputs));
      assert.match(outputs[0].text, /refund RF-[0-9A-F]{8} of \$249 for order A-100 is submitted/);

      // The transcript has every message exactly once, in order.
      const view = await http(`${apiB.url}/v1/conversations/${id}`, 'GET');
      assert.equal(view.status, 200, JSON.stringify(view.body));
      const messages = view.body.messages as { author: string; text: string }[];
      assert.deepEqual(
        messages.map((m) => m.author),
        ['user', 'refund', 'user', 'refund'],
      );
      assert.equal(messages[0]!.text, 'My order A-100 arrived damaged, I want a refund');
      assert.equal(messages[1]!.text, ask.data.agentResponse.text);
      assert.equal(messages[2]!.text, 'yes please');
      assert.equal(messages[3]!.text, outputs[0].text);

      // Event seqs across the three responses: strictly increasing, no duplicates; same for the whole log.
      const seen = [...start.body.events, ...yes.body.events, ...ok.body.events].map((e: any) => e.seq as number);
      assertStrictlyIncreasing(seen, 'events across responses');
      const log = await stack.conversations.readEvents(id, 0);
      assertStrictlyIncreasing(log.events.map((e) => e.seq), 'full event log');
      const logOutputs = log.events.filter((e): e is Extract<ConversationEvent, { type: 'output' }> => e.type === 'output');
      assert.deepEqual(
        logOutputs.map((e) => e.text),
        [messages[1]!.text, messages[3]!.text],
        'each agent reply is output exactly once',
      );
      const turns = countBy(log.events.filter((e) => e.type === 'executor_invoked'), (e) => (e as { executorId: string }).executorId);
      assert.deepEqual(turns, { triage: 1, refund: 3 });

      // The model saw each step once: triage's handoff; refund: lookup + ask (turn 1), submit_refund (turn 2),
      // confirmation (turn 3). Every call a first attempt, every answer a 200, no step twice.
      const calls = stack.model.calls(id);
      assert.ok(calls.every((c) => c.status === 200), summary(calls));
      assert.deepEqual(countBy(calls, (c) => String(c.agent)), { triage: 1, refund: 4 }, summary(calls));
      assert.ok(calls.every((c) => c.attempt === 1), `a model call was retried: ${summary(calls)}`);
      assert.equal(new Set(calls.map(stepKey)).size, calls.length, `a step was called twice: ${summary(calls)}`);
    } finally {
      await killAll();
      await stack.close();
    }
  });

  it('the answer goes to the agent that asked, also after the worker restarts', async () => {
    const stack = await createStack();
    const api = await startHttp(stack);
    try {
      const id = newConversationId('asker');
      stack.model.script(id, [
        { toolCalls: [{ name: 'handoff_to_order', arguments: {} }] },
        { content: 'Which order number is it?' },
        { content: 'Order A-101 is on its way.' },
      ]);
      const start = await http(`${api.url}/v1/conversations`, 'POST', { message: 'Where is my parcel?', conversationId: id });
      assert.equal(start.status, 201, JSON.stringify(start.body));
      assert.equal(start.body.conversationId, id);
      assert.deepEqual(
        start.body.events.filter((e: any) => e.type === 'handoff_sent').map((e: any) => [e.source, e.target]),
        [['triage', 'order']],
      );
      assert.equal(start.body.status, 'IDLE_WITH_PENDING_REQUESTS');
      const ask = start.body.pendingRequests[0];
      assert.equal(ask.sourceExecutorId, 'order');
      assert.equal(ask.data.agentResponse.text, 'Which order number is it?');

      await stack.stopWorkers();
      await stack.startWorker();

      const answer = 'It is order A-101';
      const res = await http(`${api.url}/v1/conversations/${id}/responses`, 'POST', { responses: { [ask.requestId]: answer } });
      assert.equal(res.status, 200, JSON.stringify(res.body));

      const calls = stack.model.calls(id);
      assert.equal(calls.length, 3, summary(calls));
      assert.deepEqual(calls.map((c) => c.agent), ['triage', 'order', 'order']);
      const next = calls[2]!;
      assert.equal(next.agent, 'order', 'the answer went to the agent that asked');
      assert.equal(next.status, 200);
      assert.equal(next.attempt, 1);
      assert.equal(lastUserText(next), answer);
      assert.ok(next.request.messages.length > calls[1]!.request.messages.length);

      assert.equal(res.body.status, 'IDLE_WITH_PENDING_REQUESTS');
      assert.equal(res.body.pendingRequests.length, 1);
      const again = res.body.pendingRequests[0];
      assert.notEqual(again.requestId, ask.requestId);
      assert.equal(again.sourceExecutorId, 'order');
      assert.equal(again.data.agentResponse.text, 'Order A-101 is on its way.');
      assert.deepEqual(
        res.body.events.filter((e: any) => e.type === 'executor_invoked').map((e: any) => e.executorId),
        ['order'],
      );
    } finally {
      await api.close();
      await stack.close();
    }
  });

  it('a worker killed in the middle of a turn finishes that turn once after restart', async () => {
    const stack = await createStack({ worker: false, turnTimeoutMs: 60_000 });
    const api = await startHttp(stack);
    try {
      const worker1 = await startWorkerProcess(stack, 'worker-1');
      const id = newConversationId('mid-turn');
      const reply = 'Hello! Is this about an order or a refund?';
      stack.model.script(id, [
        { content: reply, delayMs: 4_000 }, // attempt 1: the worker dies while it waits for this
        { content: reply }, // attempt 2, on the new worker
      ]);

      const started = Date.now();
      const post = http(`${api.url}/v1/conversations`, 'POST', { message: 'Hi there', conversationId: id }).catch((err: unknown) => ({
        status: -1,
        body: String(err),
      }));

      await until('the first model call', async () => (stack.model.calls(id).length > 0 ? true : undefined), 30_000, 25);
      await killHard(worker1);
      assert.equal(worker1.proc.signalCode, 'SIGKILL');
      await startWorkerProcess(stack, 'worker-2');

      const settled = await waitSettled(api.url, id);
      const settleMs = Date.now() - started;

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

      const log = await stack.conversations.readEvents(id, 0);
      assertStrictlyIncreasing(log.events.map((e) => e.seq), 'event log');
      const outputs = log.events.filter((e) => e.type === 'output');
      assert.equal(outputs.length, 1, JSON.stringify(outputs));
      assert.equal((outputs[0] as { text: string }).text, reply);
      assert.equal(log.events.filter((e) => e.type === 'executor_invoked').length, 1, 'one turn, not two');

      const calls = stack.model.calls(id);
      assert.deepEqual(
        calls.map((c) => [c.agent, c.attempt, c.status]),
        [
          ['triage', 1, 200],
          ['triage', 2, 200],
        ],
        summary(calls),
      );
      assert.equal(stepKey(calls[0]!), stepKey(calls[1]!), 'the retry is the same step');
      assert.deepEqual(calls[1]!.request.messages, calls[0]!.request.messages, 'the retry sends the same request');

      // The HTTP call that was in flight when the worker died reports the settled turn.
      const first = await post;
      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(first.body.status, 'IDLE_WITH_PENDING_REQUESTS');
      assert.equal(first.body.events.filter((e: any) => e.type === 'output').length, 1);
      console.log(`mid-turn crash settled after ${settleMs} ms`);
    } finally {
      await killAll();
      await api.close();
      await stack.close();
    }
  });

  it('no worker running: the API answers 504 TIMEOUT instead of hanging', async () => {
    const stack = await createStack({ worker: false });
    const base = stack.conversations.options;
    const conversations = new ConversationClient({ ...base, settings: TEST_SETTINGS, temporalTimeoutMs: 2_000 });
    const api = await startHttp({ ...stack, conversations });
    try {
      const started = Date.now();
      const res = await http(`${api.url}/v1/conversations`, 'POST', { message: 'Is anybody there?' });
      const elapsed = Date.now() - started;
      assert.equal(res.status, 504, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'TIMEOUT');
      assert.equal(typeof res.body.error.message, 'string');
      assert.ok(elapsed < 10_000, `took ${elapsed} ms`);
      assert.ok(elapsed >= 1_500, `answered after ${elapsed} ms, before the 2 s Temporal deadline`);
    } finally {
      await api.close();
      await stack.close();
    }
  });
});
