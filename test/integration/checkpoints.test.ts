import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConversationEvent } from '../../src/domain/events';
import { ConversationError } from '../../src/checkpoints/errors';
import { HandoffWorkflow } from '../../src/checkpoints/handoff-workflow';
import { createStack, http, newConversationId, startHttp, type TestStack } from '../support/harness';

async function drain(gen: AsyncGenerator<ConversationEvent, string>): Promise<{ events: ConversationEvent[]; conversationId: string }> {
  const events: ConversationEvent[] = [];
  let n = await gen.next();
  while (!n.done) {
    events.push(n.value);
    n = await gen.next();
  }
  return { events, conversationId: n.value };
}

/** Runs the demo story to the approval request; returns the ids along the way. */
async function demoToApproval(stack: TestStack) {
  const c = stack.conversations;
  const { conversationId, accept } = await c.start({ message: 'My order A-100 arrived damaged, I want a refund' });
  const first = await c.collect(conversationId, c.follow(conversationId, accept.fromSeq));
  const ask = first.pendingRequests[0]!;
  const a2 = await c.respond(conversationId, { [ask.requestId]: 'yes please' });
  const second = await c.collect(conversationId, c.follow(conversationId, a2.fromSeq));
  return { conversationId, ask, approval: second.pendingRequests[0]! };
}

async function runningRuns(stack: TestStack, conversationId: string): Promise<number> {
  let n = 0;
  for await (const _ of stack.client.workflow.list({ query: `WorkflowId = '${conversationId}' AND ExecutionStatus = 'Running'` })) n++;
  return n;
}

describe('checkpoints over Temporal history', () => {
  let stack: TestStack;
  before(async () => {
    stack = await createStack();
  });
  after(async () => stack.close());

  it('takes entry, superstep and response checkpoints in one parent chain', async () => {
    const { conversationId } = await demoToApproval(stack);
    const cps = await stack.conversations.checkpoints(conversationId);
    const kinds = cps.map((c) => c.record.kind);
    assert.deepEqual(kinds, ['entry', 'superstep', 'superstep', 'response', 'superstep']);
    assert.equal(cps[0]!.record.previousCheckpointId, null);
    assert.equal(cps[0]!.record.iteration, 0);
    for (let i = 1; i < cps.length; i++) assert.equal(cps[i]!.record.previousCheckpointId, cps[i - 1]!.record.checkpointId);
    for (const c of cps) {
      assert.match(c.record.checkpointId, /^[A-Za-z0-9._~-]+$/, 'URL-safe');
      assert.equal(c.record.workflowName, 'customer-support');
      assert.equal(c.record.graphSignatureHash, stack.conversations.team().graphSignatureHash);
    }
    // The pending checkpoint holds the full request_info event; the response-entry one holds none.
    assert.equal(cps[2]!.record.pendingRequests[0]!.requestType, 'HandoffAgentUserRequest');
    assert.deepEqual(cps[3]!.record.pendingRequests, []);
    assert.equal(cps[3]!.record.iteration, cps[2]!.record.iteration);
  });

  it('restores each kind of checkpoint to exactly its state, repeating no model call before it', async () => {
    for (const index of [0, 1, 2, 3]) {
      const { conversationId } = await demoToApproval(stack);
      const cps = await stack.conversations.checkpoints(conversationId);
      const target = cps[index]!.record;
      const callsBefore = stack.model.calls(conversationId).length;
      const { events } = await drain(stack.conversations.restore({ checkpointId: target.checkpointId, conversationId }));
      const state = await stack.conversations.state(conversationId);
      assert.equal(await runningRuns(stack, conversationId), 1, 'exactly one run is live');
      const calls = stack.model.calls(conversationId).slice(callsBefore);
      // Calls after the restore are only the steps after the checkpoint, each once: triage, refund's lookup,
      // refund's question (entry); refund's two (after the handoff); none (pending); refund's submit (response).
      const expectedNewCalls = [3, 2, 0, 1][index];
      assert.equal(calls.length, expectedNewCalls, `checkpoint ${target.kind}#${index}: ${calls.map((c) => c.agent).join(',')}`);
      assert.ok(calls.every((c) => c.status === 200));
      if (index === 2) {
        // Restored at the pending checkpoint: the same request, with the same id, is pending again.
        assert.deepEqual(state.pendingRequests.map((p) => p.requestId), target.pendingRequests.map((p) => p.requestId));
        assert.equal(state.messageCount, target.messageCount);
        assert.deepEqual(events.filter((e) => e.type === 'request_info').map((e) => (e as { requestId: string }).requestId), target.pendingRequests.map((p) => p.requestId));
      }
      if (index === 3) {
        // Restored at the response entry: the answer was already accepted, refund runs on from it.
        assert.equal(state.pendingRequests[0]!.requestType, 'FunctionApprovalRequest');
        const old = cps[4]!.record.pendingRequests[0]!.requestId;
        assert.notEqual(state.pendingRequests[0]!.requestId, old, 'a request minted after the restore point gets a new id');
        assert.equal(state.pendingRequests[0]!.requestId.split('.')[0], old.split('.')[0]);
      }
      assert.equal(state.lineage.rewinds.length, 1);
      assert.equal(state.lineage.rewinds[0]!.checkpointId, target.checkpointId);
    }
  });

  it('rewinds to a middle checkpoint and routes the new answer to the agent that asked there', async () => {
    const c = stack.conversations;
    const { conversationId, ask, approval } = await demoToApproval(stack);
    const done = await c.respond(conversationId, { [approval.requestId]: { approved: true } });
    await c.collect(conversationId, c.follow(conversationId, done.fromSeq));
    const cps = await c.checkpoints(conversationId);
    const atAsk = cps.find((x) => x.record.pendingRequests.some((p) => p.requestId === ask.requestId))!;
    const callsBefore = stack.model.calls(conversationId).length;
    const before = await c.state(conversationId);
    const { events } = await drain(c.restore({ checkpointId: atAsk.record.checkpointId, conversationId, responses: { [ask.requestId]: 'no, thanks' } }));
    assert.equal(await runningRuns(stack, conversationId), 1);
    // Answered requests are not re-emitted.
    assert.ok(!events.some((e) => e.type === 'request_info' && e.requestId === ask.requestId));
    const calls = stack.model.calls(conversationId).slice(callsBefore);
    assert.deepEqual(calls.map((x) => x.agent), ['refund'], 'only the step after the checkpoint ran');
    const lastUser = (calls[0]!.request.messages as { role: string; content: string }[]).filter((m) => m.role === 'user').at(-1);
    assert.equal(lastUser!.content, 'no, thanks');
    const state = await c.state(conversationId);
    assert.equal(state.pendingRequests[0]!.sourceExecutorId, 'refund');
    assert.ok(!before.pendingRequests.some((p) => p.requestId === state.pendingRequests[0]!.requestId), 'new ids never reuse old ones');
    // seq stays monotonic across the rewind.
    const seqs = events.map((e) => e.seq).filter((s) => s > atAsk.record.eventSeq);
    assert.ok(seqs.every((s) => s > before.lastSeq), 'events after a rewind continue the seq');
    // The abandoned branch's checkpoints stay listed (and restorable) but are marked.
    const after = await c.checkpoints(conversationId);
    const abandoned = after.filter((x) => x.abandoned).map((x) => x.record.checkpointId);
    const later = cps.slice(cps.findIndex((x) => x.record.checkpointId === atAsk.record.checkpointId) + 1).map((x) => x.record.checkpointId);
    assert.deepEqual(abandoned.sort(), later.sort());
    assert.equal(after.find((x) => x.record.checkpointId === atAsk.record.checkpointId)!.abandoned, false);
    // A second rewind, to an earlier point, keeps the first one in the lineage.
    const entry = after.find((x) => x.record.kind === 'entry')!;
    for await (const _ of c.restore({ checkpointId: entry.record.checkpointId, conversationId })) {
      // drain
    }
    const twice = await c.state(conversationId);
    assert.deepEqual(twice.lineage.rewinds.map((r) => r.checkpointId), [atAsk.record.checkpointId, entry.record.checkpointId]);
  });

  it('forks a checkpoint into a new conversation and leaves the original answerable', async () => {
    const c = stack.conversations;
    const { conversationId, ask } = await demoToApproval(stack);
    const cps = await c.checkpoints(conversationId);
    const atAsk = cps.find((x) => x.record.pendingRequests.some((p) => p.requestId === ask.requestId))!;
    const forkId = newConversationId('fork');
    const callsBefore = stack.model.calls(conversationId).length;
    const fork = await drain(c.restore({ checkpointId: atAsk.record.checkpointId, mode: 'fork', forkConversationId: forkId, responses: { [ask.requestId]: 'no' } }));
    assert.equal(fork.conversationId, forkId);
    const forkState = await c.state(forkId);
    assert.deepEqual(forkState.lineage.forkedFrom, { conversationId, checkpointId: atAsk.record.checkpointId });
    assert.equal(forkState.pendingRequests[0]!.sourceExecutorId, 'refund');
    assert.equal(stack.model.calls(conversationId).length, callsBefore, 'the original saw no model call');
    assert.equal(stack.model.calls(forkId).length, 1, 'the fork ran only the step after the checkpoint');
    // The original still waits for its approval and can be answered.
    const orig = await c.state(conversationId);
    assert.equal(orig.pendingRequests[0]!.requestType, 'FunctionApprovalRequest');
    const go = await c.respond(conversationId, { [orig.pendingRequests[0]!.requestId]: { approved: false, reason: 'changed my mind' } });
    const res = await c.collect(conversationId, c.follow(conversationId, go.fromSeq));
    assert.match(res.outputs.at(-1)!.text, /did not submit the refund/);
    // Fork checkpoints chain to the source checkpoint.
    const forkCps = await c.checkpoints(forkId);
    assert.equal(forkCps[0]!.record.kind, 'fork');
    assert.equal(forkCps[0]!.record.previousCheckpointId, atAsk.record.checkpointId);
  });

  it('rejects unknown, foreign and other-team checkpoints with the documented errors', async () => {
    const c = stack.conversations;
    const a = await demoToApproval(stack);
    const b = await demoToApproval(stack);
    const api = await startHttp(stack);
    try {
      const bCp = (await c.checkpoints(b.conversationId))[0]!.record.checkpointId;
      const missing = await http(`${api.url}/v1/conversations/${a.conversationId}/restore`, 'POST', { checkpointId: `${a.conversationId}~c999` });
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, 'CHECKPOINT_NOT_FOUND');
      const garbage = await http(`${api.url}/v1/conversations/${a.conversationId}/restore`, 'POST', { checkpointId: 'nonsense' });
      assert.equal(garbage.status, 404);
      assert.equal(garbage.body.error.code, 'CHECKPOINT_NOT_FOUND');
      const foreign = await http(`${api.url}/v1/conversations/${a.conversationId}/restore`, 'POST', { checkpointId: bCp });
      assert.equal(foreign.status, 404);
      assert.equal(foreign.body.error.code, 'CHECKPOINT_NOT_FOUND');
      assert.match(foreign.body.error.message, /another conversation/);
      const otherTeam = new HandoffWorkflow(c, { team: 'test-autonomous' });
      await assert.rejects(otherTeam.run({ checkpointId: bCp }), (err: unknown) => err instanceof ConversationError && err.code === 'GRAPH_MISMATCH');
      const badMode = await http(`${api.url}/v1/conversations/${a.conversationId}/restore`, 'POST', { checkpointId: bCp, mode: 'sideways' });
      assert.equal(badMode.status, 400);
      assert.equal(badMode.body.error.code, 'INVALID_BODY');
      assert.match(badMode.body.error.message, /^mode:/);
    } finally {
      await api.close();
    }
  });

  it('validates restore responses against the checkpoint, all or nothing', async () => {
    const c = stack.conversations;
    const { conversationId, ask } = await demoToApproval(stack);
    const atAsk = (await c.checkpoints(conversationId)).find((x) => x.record.pendingRequests.length && x.record.pendingRequests[0]!.requestId === ask.requestId)!;
    const historyBefore = (await stack.client.workflow.getHandle(conversationId).fetchHistory()).events!.length;
    await assert.rejects(
      drain(c.restore({ checkpointId: atAsk.record.checkpointId, conversationId, responses: { [ask.requestId]: 'ok', r99: 'x' } })),
      (err: unknown) => err instanceof ConversationError && err.code === 'UNKNOWN_REQUEST',
    );
    await assert.rejects(
      drain(c.restore({ checkpointId: atAsk.record.checkpointId, conversationId, responses: { [ask.requestId]: { approved: true } } })),
      (err: unknown) => err instanceof ConversationError && err.code === 'RESPONSE_TYPE_MISMATCH',
    );
    const historyAfter = (await stack.client.workflow.getHandle(conversationId).fetchHistory()).events!.length;
    assert.equal(historyAfter, historyBefore, 'a rejected restore changes nothing');
  });

  it('restores a finished conversation', async () => {
    const c = stack.conversations;
    const { conversationId, approval } = await demoToApproval(stack);
    const rejected = await c.respond(conversationId, { [approval.requestId]: { approved: false } });
    const asked = await c.collect(conversationId, c.follow(conversationId, rejected.fromSeq));
    const end = await c.respond(conversationId, { [asked.pendingRequests[0]!.requestId]: [] });
    await c.collect(conversationId, c.follow(conversationId, end.fromSeq));
    assert.equal((await stack.client.workflow.getHandle(conversationId).describe()).status.name, 'COMPLETED');
    const cps = await c.checkpoints(conversationId);
    const pendingApproval = cps.filter((x) => x.record.pendingRequests.some((p) => p.requestId === approval.requestId)).at(-1)!;
    await drain(c.restore({ checkpointId: pendingApproval.record.checkpointId, conversationId, responses: { [approval.requestId]: { approved: true } } }));
    const state = await c.state(conversationId);
    assert.equal(state.ended, false);
    assert.match(state.messages.at(-1)!.text, /is submitted/);
    assert.equal((await stack.client.workflow.getHandle(conversationId).describe()).status.name, 'RUNNING');
  });

  it('restores with partial answers: answered requests are not re-emitted, the rest stay pending with the right status', async () => {
    const c = stack.conversations;
    const id = newConversationId('partial');
    stack.model.script(id, [
      { toolCalls: [{ name: 'handoff_to_refund' }] },
      {
        toolCalls: [
          { name: 'submit_refund', arguments: { order_id: 'A-100', amount: 100, reason: 'damaged' } },
          { name: 'submit_refund', arguments: { order_id: 'B-200', amount: 89, reason: 'damaged' } },
        ],
      },
      { content: 'Both handled.' },
    ]);
    const { accept } = await c.start({ conversationId: id, message: 'two refunds please' });
    const first = await c.collect(id, c.follow(id, accept.fromSeq));
    assert.equal(first.pendingRequests.length, 2);
    const [a, b] = first.pendingRequests as [typeof first.pendingRequests[0], typeof first.pendingRequests[0]];
    const cp = (await c.checkpoints(id)).at(-1)!;
    assert.equal(cp.record.pendingRequests.length, 2);
    // Restore the latest checkpoint answering only the first approval.
    const partial = await drainAll(c.restore({ checkpointId: cp.record.checkpointId, conversationId: id, responses: { [a!.requestId]: { approved: true } } }));
    const reemitted = partial.filter((e) => e.type === 'request_info').map((e) => (e as { requestId: string }).requestId);
    assert.deepEqual(reemitted, [b!.requestId], 'only the unanswered request is re-emitted');
    const statuses = partial.filter((e) => e.type === 'status').map((e) => (e as { state: string }).state);
    assert.equal(statuses.at(-1), 'IDLE_WITH_PENDING_REQUESTS');
    const mid = await c.state(id);
    assert.deepEqual(mid.pendingRequests.map((p) => p.requestId), [b!.requestId]);
    assert.equal(stack.model.calls(id).length, 2, 'no model call until every approval is answered');
    // Answering the second one runs the tools and the agent.
    const rest = await c.respond(id, { [b!.requestId]: { approved: false, reason: 'not that one' } });
    const done = await c.collect(id, c.follow(id, rest.fromSeq));
    assert.equal(done.outputs.at(-1)!.text, 'Both handled.');
    assert.equal(done.status, 'IDLE_WITH_PENDING_REQUESTS');
    assert.deepEqual(done.pendingRequests.map((p) => p.requestType), ['HandoffAgentUserRequest']);
  });
});

async function drainAll(gen: AsyncGenerator<ConversationEvent, string>): Promise<ConversationEvent[]> {
  const out: ConversationEvent[] = [];
  for await (const e of gen) out.push(e);
  return out;
}
