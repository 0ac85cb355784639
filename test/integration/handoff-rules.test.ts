/**
 * The handoff turn rules of DESIGN.md §3 (one handoff per turn, invalid handoffs, the loop guard, tool and
 * approval mixes, termination, autonomous mode, list answers), driven through the client adapter against a real
 * Temporal dev server and worker, with the scripted model. The scripted model rejects invalid message orderings
 * with OpenAI's 400s, so "every call got 200" proves every transcript sent was valid.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunResult } from '../../src/checkpoints/conversation-client';
import type { ConversationEvent } from '../../src/domain/events';
import { DEFAULT_AUTONOMOUS_PROMPT } from '../../src/domain/team';
import type { RecordedCall, ScriptedReply } from '../../src/scripted-model/server';
import { createStack, newConversationId, type TestStack } from '../support/harness';

// ---- Helpers local to this file ----

/** A compact, order-preserving picture of an event list, precise enough to compare whole runs. */
function shape(events: readonly ConversationEvent[]): string[] {
  return events.map((e) => {
    switch (e.type) {
      case 'status':
        return `status:${e.state}`;
      case 'superstep_started':
      case 'superstep_completed':
        return `${e.type}:${e.iteration}`;
      case 'executor_invoked':
      case 'executor_completed':
        return `${e.type}:${e.executorId}`;
      case 'output':
        return `output:${e.executorId}`;
      case 'handoff_sent':
        return `handoff_sent:${e.source}>${e.target}`;
      case 'request_info':
        return `request_info:${e.requestType}@${e.sourceExecutorId}`;
      case 'failed':
        return `failed:${e.details.errorType}@${String(e.details.executorId)}`;
      default:
        return e.type;
    }
  });
}

/** The events of one call are exactly seq fromSeq+1, fromSeq+2, … with no gap or reordering. */
function assertContiguous(events: readonly ConversationEvent[], fromSeq: number): void {
  assert.ok(events.length > 0, 'the call produced events');
  assert.deepEqual(
    events.map((e) => e.seq),
    events.map((_, i) => fromSeq + 1 + i),
    'events carry consecutive seqs starting right after fromSeq',
  );
}

function handoffs(run: RunResult): [string, string][] {
  return run.events.flatMap((e) => (e.type === 'handoff_sent' ? [[e.source, e.target] as [string, string]] : []));
}

function failedOf(run: RunResult): Extract<ConversationEvent, { type: 'failed' }> {
  const failed = run.events.filter((e): e is Extract<ConversationEvent, { type: 'failed' }> => e.type === 'failed');
  assert.equal(failed.length, 1, 'exactly one failed event');
  return failed[0]!;
}

interface Msg {
  role: string;
  content?: string | null;
  name?: string;
  tool_call_id?: string;
  tool_calls?: { id: string; function: { name: string; arguments: string } }[];
}

function messagesOf(call: RecordedCall): Msg[] {
  return call.request.messages as Msg[];
}

/** The tool messages a model call sent, by tool call id, contents parsed as JSON. */
function toolResults(call: RecordedCall): Map<string, any> {
  const out = new Map<string, any>();
  for (const m of messagesOf(call)) {
    if (m.role === 'tool') {
      assert.ok(!out.has(m.tool_call_id!), `tool call ${m.tool_call_id} answered once`);
      out.set(m.tool_call_id!, JSON.parse(m.content ?? 'null'));
    }
  }
  return out;
}

/** Role/content pairs of a model call's messages (system included), for exact transcript comparisons. */
function transcriptOf(call: RecordedCall): string[] {
  return messagesOf(call).map((m) => {
    if (m.role === 'tool') return `tool(${m.tool_call_id}):${m.content}`;
    if (m.role === 'assistant' && m.tool_calls?.length) {
      return `assistant:${m.content ?? ''}[${m.tool_calls.map((c) => `${c.id}=${c.function.name}`).join(',')}]`;
    }
    return `${m.role}${m.name ? `(${m.name})` : ''}:${m.content ?? ''}`;
  });
}

function assertAllCallsOk(calls: RecordedCall[]): void {
  assert.deepEqual(
    calls.map((c) => c.status),
    calls.map(() => 200),
    `every model call was valid: ${JSON.stringify(calls.map((c) => c.error).filter(Boolean))}`,
  );
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('handoff turn rules', () => {
  let stack: TestStack;

  before(async () => {
    stack = await createStack();
  });
  after(async () => {
    await stack.close();
  });

  /** Scripts a fresh conversation, starts it and collects its first run. */
  async function begin(replies: ScriptedReply[], message: string | string[], team?: string): Promise<{ id: string; run: RunResult; fromSeq: number }> {
    const id = newConversationId('rules');
    stack.model.script(id, replies);
    const { accept } = await stack.conversations.start({ conversationId: id, message, ...(team ? { team } : {}) });
    const run = await stack.conversations.collect(id, stack.conversations.follow(id, accept.fromSeq));
    assertContiguous(run.events, accept.fromSeq);
    return { id, run, fromSeq: accept.fromSeq };
  }

  /** Answers pending requests and collects the run that follows. */
  async function answer(id: string, responses: Record<string, unknown>): Promise<RunResult> {
    const accept = await stack.conversations.respond(id, responses);
    const run = await stack.conversations.collect(id, stack.conversations.follow(id, accept.fromSeq));
    assertContiguous(run.events, accept.fromSeq);
    return run;
  }

  async function workflowStatus(id: string): Promise<string | undefined> {
    return (await stack.client.workflow.getHandle(id).describe()).status.name;
  }

  /** How many activities of a type this conversation's current run scheduled. */
  async function scheduled(id: string, activityType: string): Promise<number> {
    const history = await stack.client.workflow.getHandle(id).fetchHistory();
    return (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType).length;
  }

  it('takes only the first of two handoff calls in one reply, answers the second with a one-handoff-per-turn error, and runs the first target next', async () => {
    const { id, run, fromSeq } = await begin(
      [
        { toolCalls: [{ name: 'handoff_to_refund', id: 'call_first' }, { name: 'handoff_to_order', id: 'call_second' }] },
        // refund runs next and sends the conversation straight back, so triage's next call shows both tool results.
        { toolCalls: [{ name: 'handoff_to_triage', id: 'call_back' }] },
        { content: 'Back at triage: what else can I do?' },
      ],
      'I want a refund for A-100',
    );
    assert.equal(fromSeq, 0);
    assert.deepEqual(shape(run.events), [
      'started',
      'status:IN_PROGRESS',
      'checkpoint',
      'superstep_started:1',
      'executor_invoked:triage',
      'executor_completed:triage',
      'handoff_sent:triage>refund',
      'checkpoint',
      'superstep_completed:1',
      'superstep_started:2',
      'executor_invoked:refund',
      'executor_completed:refund',
      'handoff_sent:refund>triage',
      'checkpoint',
      'superstep_completed:2',
      'superstep_started:3',
      'executor_invoked:triage',
      'output:triage',
      'executor_completed:triage',
      'request_info:HandoffAgentUserRequest@triage',
      'status:IN_PROGRESS_PENDING_REQUESTS',
      'checkpoint',
      'superstep_completed:3',
      'status:IDLE_WITH_PENDING_REQUESTS',
    ]);
    assert.deepEqual(handoffs(run), [
      ['triage', 'refund'],
      ['refund', 'triage'],
    ]);
    assert.equal(run.status, 'IDLE_WITH_PENDING_REQUESTS');
    assert.equal(run.pendingRequests.length, 1);
    assert.equal(run.pendingRequests[0]!.sourceExecutorId, 'triage');

    const calls = stack.model.calls(id);
    assertAllCallsOk(calls);
    assert.deepEqual(
      calls.map((c) => c.agent),
      ['triage', 'refund', 'triage'],
      'the first handoff target (refund), not the second (order), ran next',
    );
    // refund sees the user's message but none of triage's tool traffic.
    assert.deepEqual(toolResults(calls[1]!), new Map());
    const results = toolResults(calls[2]!);
    assert.deepEqual([...results.keys()].sort(), ['call_first', 'call_second'], 'every call of the reply got exactly one tool result');
    assert.deepEqual(results.get('call_first'), { handoff_to: 'refund' });
    assert.match(results.get('call_second').error, /Only one handoff per turn/);
    assert.match(results.get('call_second').error, /refund/);
  });

  it('answers handoffs to an unknown agent and to itself with errors naming the allowed targets, then follows a valid handoff', async () => {
    const { id, run } = await begin(
      [
        { toolCalls: [{ name: 'handoff_to_nobody', id: 'call_nobody' }, { name: 'handoff_to_triage', id: 'call_self' }] },
        { toolCalls: [{ name: 'handoff_to_order', id: 'call_order' }] },
        { content: 'Which order number should I look up?' },
      ],
      'Where is my parcel?',
    );
    assert.deepEqual(handoffs(run), [['triage', 'order']]);
    assert.equal(run.events.filter((e) => e.type === 'failed').length, 0);
    assert.deepEqual(
      run.events.filter((e) => e.type === 'executor_invoked').map((e) => (e as { executorId: string }).executorId),
      ['triage', 'order'],
      'both invalid attempts and the valid one happen in triage\'s one turn',
    );
    assert.equal(run.status, 'IDLE_WITH_PENDING_REQUESTS');
    assert.equal(run.pendingRequests.length, 1);
    assert.equal(run.pendingRequests[0]!.sourceExecutorId, 'order');
    assert.equal(run.pendingRequests[0]!.requestType, 'HandoffAgentUserRequest');

    const calls = stack.model.calls(id);
    assertAllCallsOk(calls);
    assert.deepEqual(calls.map((c) => c.agent), ['triage', 'triage', 'order']);
    const results = toolResults(calls[1]!);
    assert.deepEqual([...results.keys()].sort(), ['call_nobody', 'call_self']);
    const nobody = results.get('call_nobody').error as string;
    assert.match(nobody, /"nobody"/);
    assert.match(nobody, /not an allowed target/);
    assert.match(nobody, /Allowed targets: order, refund\./);
    const self = results.get('call_self').error as string;
    assert.match(self, /"triage"/);
    assert.match(self, /cannot hand off to itself/);
    assert.match(self, /Allowed targets: order, refund\./);
  });

  it('fails the turn with a typed InvalidHandoff after three invalid handoffs and stays resumable', async () => {
    const { id, run } = await begin(
      [
        { toolCalls: [{ name: 'handoff_to_nobody', id: 'call_bad1' }, { name: 'handoff_to_triage', id: 'call_bad2' }] },
        { toolCalls: [{ name: 'handoff_to_ghost', id: 'call_bad3' }] },
      ],
      'Hello',
    );
    assert.deepEqual(shape(run.events), [
      'started',
      'status:IN_PROGRESS',
      'checkpoint',
      'superstep_started:1',
      'executor_invoked:triage',
      'executor_completed:triage',
      'failed:InvalidHandoff@triage',
      'superstep_completed:1',
      'status:FAILED',
    ]);
    const failed = failedOf(run);
    assert.equal(failed.details.errorType, 'InvalidHandoff');
    assert.equal(failed.details.executorId, 'triage');
    assert.match(failed.details.message, /3 invalid handoffs/);
    assert.equal(run.status, 'FAILED');
    assert.deepEqual(run.pendingRequests, []);

    const calls = stack.model.calls(id);
    assertAllCallsOk(calls);
    assert.equal(calls.length, 2, 'the third invalid attempt fails the turn without another model call');
    assert.deepEqual([...toolResults(calls[1]!).keys()].sort(), ['call_bad1', 'call_bad2']);

    // Resumable: the workflow is still running and its entry checkpoint is there to restore.
    assert.equal(await workflowStatus(id), 'RUNNING');
    const state = await stack.conversations.state(id);
    assert.equal(state.status, 'FAILED');
    assert.equal(state.ended, false);
    const checkpoints = await stack.conversations.checkpoints(id);
    assert.ok(checkpoints.length > 0, 'a failed conversation keeps its checkpoints');
    assert.equal(checkpoints.at(-1)!.record.checkpointId, state.lastCheckpointId);
    assert.equal(checkpoints.at(-1)!.record.kind, 'entry', 'the failed superstep took no checkpoint');
  });

  it('runs an ordinary tool called together with a handoff, gives refund its result, and hands off', async () => {
    const { id, run } = await begin(
      [
        { toolCalls: [{ name: 'handoff_to_refund', id: 'call_to_refund' }] },
        {
          toolCalls: [
            { name: 'lookup_order', arguments: { order_id: 'A-100' }, id: 'call_lookup' },
            { name: 'handoff_to_order', id: 'call_to_order' },
          ],
        },
        // order sends it back, so refund's next call shows its own tool results.
        { toolCalls: [{ name: 'handoff_to_refund', id: 'call_order_back' }] },
        { content: 'Order A-100 is an espresso grinder for $249. Shall I refund it?' },
      ],
      'My grinder A-100 arrived broken',
    );
    assert.deepEqual(handoffs(run), [
      ['triage', 'refund'],
      ['refund', 'order'],
      ['order', 'refund'],
    ]);
    assert.equal(run.status, 'IDLE_WITH_PENDING_REQUESTS');
    assert.equal(run.pendingRequests.length, 1);
    assert.equal(run.pendingRequests[0]!.sourceExecutorId, 'refund');
    assert.equal(await scheduled(id, 'runTool'), 1, 'lookup_order ran once');

    const calls = stack.model.calls(id);
    assertAllCallsOk(calls);
    assert.deepEqual(calls.map((c) => c.agent), ['triage', 'refund', 'order', 'refund']);
    assert.deepEqual(toolResults(calls[2]!), new Map(), "order sees none of refund's tool traffic");
    const results = toolResults(calls[3]!);
    assert.deepEqual([...results.keys()].sort(), ['call_lookup', 'call_to_order']);
    assert.deepEqual(results.get('call_to_order'), { handoff_to: 'order' });
    assert.deepEqual(results.get('call_lookup'), {
      order_id: 'A-100',
      item: 'Espresso grinder',
      total: 249,
      currency: 'USD',
      status: 'delivered',
      delivered_on: '2026-11-28',
    });
  });

  it('does not raise an approval for an approval-required call made together with a handoff, and answers it as not executed', async () => {
    const { id, run } = await begin(
      [
        { toolCalls: [{ name: 'handoff_to_refund', id: 'call_to_refund' }] },
        {
          toolCalls: [
            { name: 'submit_refund', arguments: { order_id: 'A-100', amount: 249, reason: 'arrived damaged' }, id: 'call_submit' },
            { name: 'handoff_to_triage', id: 'call_to_triage' },
          ],
        },
        { toolCalls: [{ name: 'handoff_to_refund', id: 'call_again' }] },
        { content: 'I have not submitted anything yet. Do you want the refund?' },
      ],
      'Refund A-100 please',
    );
    assert.deepEqual(handoffs(run), [
      ['triage', 'refund'],
      ['refund', 'triage'],
      ['triage', 'refund'],
    ]);
    const requests = run.events.filter((e) => e.type === 'request_info');
    assert.deepEqual(
      requests.map((e) => (e as { requestType: string }).requestType),
      ['HandoffAgentUserRequest'],
      'no FunctionApprovalRequest was raised',
    );
    assert.equal(run.status, 'IDLE_WITH_PENDING_REQUESTS');
    assert.equal(run.pendingRequests.length, 1);
    assert.equal(run.pendingRequests[0]!.requestType, 'HandoffAgentUserRequest');
    assert.equal(run.pendingRequests[0]!.sourceExecutorId, 'refund');
    assert.equal(await scheduled(id, 'runTool'), 0, 'submit_refund never ran');

    const calls = stack.model.calls(id);
    assertAllCallsOk(calls);
    assert.deepEqual(calls.map((c) => c.agent), ['triage', 'refund', 'triage', 'refund']);
    const results = toolResults(calls[3]!);
    assert.deepEqual([...results.keys()].sort(), ['call_submit', 'call_to_triage']);
    assert.deepEqual(results.get('call_to_triage'), { handoff_to: 'triage' });
    assert.match(results.get('call_submit').error, /^Not executed/);
    assert.match(results.get('call_submit').error, /handed off to triage/);
  });

  it('fails with HandoffLoop when agents hand off back and forth more than 8 times without user input', async () => {
    const replies: ScriptedReply[] = [];
    for (let i = 0; i < 9; i++) {
      replies.push({ toolCalls: [{ name: i % 2 === 0 ? 'handoff_to_refund' : 'handoff_to_triage', id: `call_loop_${i}` }] });
    }
    const { id, run } = await begin(replies, 'Ping pong');
    const expected: [string, string][] = [];
    for (let i = 0; i < 8; i++) expected.push(i % 2 === 0 ? ['triage', 'refund'] : ['refund', 'triage']);
    assert.deepEqual(handoffs(run), expected, 'eight handoffs go through, the ninth does not');
    const failed = failedOf(run);
    assert.equal(failed.details.errorType, 'HandoffLoop');
    assert.equal(failed.details.executorId, 'triage');
    assert.match(failed.details.message, /more than 8 handoffs/);
    assert.deepEqual(shape(run.events).slice(-5), [
      'executor_invoked:triage',
      'executor_completed:triage',
      'failed:HandoffLoop@triage',
      'superstep_completed:9',
      'status:FAILED',
    ]);
    assert.equal(run.status, 'FAILED');
    assert.deepEqual(run.pendingRequests, []);
    const calls = stack.model.calls(id);
    assertAllCallsOk(calls);
    assert.equal(calls.length, 9);
    assert.equal(await workflowStatus(id), 'RUNNING');
  });

  it('answers an unknown tool name with an error tool result and lets the agent answer in the next round', async () => {
    const { id, run } = await begin(
      [
        {
          toolCalls: [
            { name: 'delete_everything', arguments: {}, id: 'call_unknown' },
            // A tool the team has, but not this agent.
            { name: 'lookup_order', arguments: { order_id: 'A-100' }, id: 'call_not_mine' },
          ],
        },
        { content: 'I can only route you to a specialist. What do you need?' },
      ],
      'Hi',
    );
    assert.deepEqual(shape(run.events), [
      'started',
      'status:IN_PROGRESS',
      'checkpoint',
      'superstep_started:1',
      'executor_invoked:triage',
      'output:triage',
      'executor_completed:triage',
      'request_info:HandoffAgentUserRequest@triage',
      'status:IN_PROGRESS_PENDING_REQUESTS',
      'checkpoint',
      'superstep_completed:1',
      'status:IDLE_WITH_PENDING_REQUESTS',
    ]);
    assert.equal(run.outputs[0]!.text, 'I can only route you to a specialist. What do you need?');
    assert.equal(await scheduled(id, 'runTool'), 0);
    const calls = stack.model.calls(id);
    assertAllCallsOk(calls);
    assert.deepEqual(calls.map((c) => c.agent), ['triage', 'triage']);
    const results = toolResults(calls[1]!);
    assert.deepEqual([...results.keys()].sort(), ['call_not_mine', 'call_unknown']);
    assert.equal(results.get('call_unknown').error, 'Unknown tool "delete_everything". Available tools: (none).');
    assert.equal(results.get('call_not_mine').error, 'Unknown tool "lookup_order". Available tools: (none).');
  });

  it('ends the conversation (IDLE, workflow completed) when the termination condition holds after the second user message', async () => {
    const { id, run } = await begin([{ content: 'Here is my first answer.' }], 'First question', 'test-termination');
    assert.equal(run.status, 'IDLE_WITH_PENDING_REQUESTS');
    const ask = run.pendingRequests[0]!;
    assert.equal(ask.sourceExecutorId, 'helper');

    const end = await answer(id, { [ask.requestId]: 'Second question' });
    assert.deepEqual(shape(end.events), ['started', 'status:IN_PROGRESS', 'checkpoint', 'status:IDLE']);
    assert.equal(end.status, 'IDLE');
    assert.deepEqual(end.pendingRequests, []);
    assert.equal(stack.model.calls(id).length, 1, 'termination is checked before the agent runs again');
    assertAllCallsOk(stack.model.calls(id));

    const handle = stack.client.workflow.getHandle(id);
    const result = await withTimeout(handle.result(), 15_000, 'the workflow to complete');
    assert.equal(result.endReason, 'termination');
    assert.equal(await workflowStatus(id), 'COMPLETED');
    const state = await stack.conversations.state(id);
    assert.equal(state.ended, true);
    assert.equal(state.endReason, 'termination');
  });

  it("ends the conversation when an agent's reply contains a stop phrase, without asking the user", async () => {
    const { id, run } = await begin([{ content: 'All sorted. Goodbye!' }], 'Please sort it out', 'test-termination');
    assert.deepEqual(shape(run.events), [
      'started',
      'status:IN_PROGRESS',
      'checkpoint',
      'superstep_started:1',
      'executor_invoked:helper',
      'output:helper',
      'executor_completed:helper',
      'checkpoint',
      'superstep_completed:1',
      'status:IDLE',
    ]);
    assert.equal(run.status, 'IDLE');
    assert.deepEqual(run.pendingRequests, []);
    const result = await withTimeout(stack.client.workflow.getHandle(id).result(), 15_000, 'the workflow to complete');
    assert.equal(result.endReason, 'termination');
    assert.equal(await workflowStatus(id), 'COMPLETED');
  });

  it('ends the conversation when the user answers with an empty list', async () => {
    const { id, run } = await begin([{ content: 'How can I help?' }], 'Hello there');
    const ask = run.pendingRequests[0]!;
    const end = await answer(id, { [ask.requestId]: [] });
    assert.deepEqual(shape(end.events), ['started', 'status:IN_PROGRESS', 'checkpoint', 'status:IDLE']);
    assert.equal(end.status, 'IDLE');
    assert.deepEqual(end.pendingRequests, []);
    assert.equal(stack.model.calls(id).length, 1);
    const result = await withTimeout(stack.client.workflow.getHandle(id).result(), 15_000, 'the workflow to complete');
    assert.equal(result.endReason, 'user');
    assert.equal(await workflowStatus(id), 'COMPLETED');
  });

  it("re-prompts an autonomous agent up to its turn limit with a prompt only it sees, then asks the user", async () => {
    const prompt = DEFAULT_AUTONOMOUS_PROMPT;
    const { id, run } = await begin(
      [
        { content: 'Draft one.' },
        { content: 'Draft two.' },
        { content: 'Draft three.' },
        { toolCalls: [{ name: 'handoff_to_critic', id: 'call_to_critic' }] },
        { content: 'Solid drafts; tighten the second line.' },
      ],
      'Write a haiku about rain',
      'test-autonomous',
    );
    assert.deepEqual(shape(run.events), [
      'started',
      'status:IN_PROGRESS',
      'checkpoint',
      'superstep_started:1',
      'executor_invoked:writer',
      'output:writer',
      'output:writer',
      'output:writer',
      'executor_completed:writer',
      'request_info:HandoffAgentUserRequest@writer',
      'status:IN_PROGRESS_PENDING_REQUESTS',
      'checkpoint',
      'superstep_completed:1',
      'status:IDLE_WITH_PENDING_REQUESTS',
    ]);
    assert.deepEqual(run.outputs.map((o) => o.text), ['Draft one.', 'Draft two.', 'Draft three.']);
    const ask = run.pendingRequests[0]!;
    assert.equal(ask.sourceExecutorId, 'writer');
    assert.equal(ask.requestType, 'HandoffAgentUserRequest');

    let calls = stack.model.calls(id);
    assert.equal(calls.length, 3);
    assert.deepEqual(transcriptOf(calls[2]!), [
      'system:You write.',
      'user:Write a haiku about rain',
      'assistant:Draft one.',
      `user:${prompt}`,
      'assistant:Draft two.',
      `user:${prompt}`,
    ]);

    const next = await answer(id, { [ask.requestId]: 'Ask the critic' });
    assert.deepEqual(handoffs(next), [['writer', 'critic']]);
    assert.equal(next.status, 'IDLE_WITH_PENDING_REQUESTS');
    assert.equal(next.pendingRequests[0]!.sourceExecutorId, 'critic');
    calls = stack.model.calls(id);
    assertAllCallsOk(calls);
    assert.deepEqual(calls.map((c) => c.agent), ['writer', 'writer', 'writer', 'writer', 'critic']);
    const critic = calls[4]!;
    assert.deepEqual(transcriptOf(critic), [
      'system:You critique.',
      'user:Write a haiku about rain',
      'assistant(writer):Draft one.',
      'assistant(writer):Draft two.',
      'assistant(writer):Draft three.',
      'user:Ask the critic',
    ]);
    assert.ok(!JSON.stringify(critic.request.messages).includes(prompt), 'the critic never receives the autonomous prompt');
    // The view shows no synthetic prompt either.
    const state = await stack.conversations.state(id);
    assert.ok(!state.messages.some((m) => m.text === prompt));
  });

  it('gives an autonomous agent its full turn limit again after it hands off and gets the conversation back', async () => {
    // maf-handoff-contract.md §1 step 8: a handoff resets the autonomous turn counter.
    const prompt = DEFAULT_AUTONOMOUS_PROMPT;
    const { id, run } = await begin(
      [
        { content: 'Draft one.' }, // writer, re-prompted (1 of 2)
        { toolCalls: [{ name: 'handoff_to_critic', id: 'call_to_critic' }] }, // writer hands off: counter resets
        { toolCalls: [{ name: 'handoff_to_writer', id: 'call_to_writer' }] }, // critic sends it straight back
        { content: 'Draft two.' }, // writer, re-prompted (1 of 2)
        { content: 'Draft three.' }, // writer, re-prompted (2 of 2)
        { content: 'Draft four.' }, // writer, limit used up: asks the user
      ],
      'Write a haiku about snow',
      'test-autonomous',
    );
    assert.deepEqual(handoffs(run), [
      ['writer', 'critic'],
      ['critic', 'writer'],
    ]);
    const calls = stack.model.calls(id);
    assertAllCallsOk(calls);
    assert.ok(!JSON.stringify(calls[2]!.request.messages).includes(prompt), 'the critic never receives the autonomous prompt');
    assert.deepEqual(
      run.outputs.map((o) => o.text),
      ['Draft one.', 'Draft two.', 'Draft three.', 'Draft four.'],
      'after the handoff back the writer is re-prompted twice (turnLimit 2), not only once',
    );
    assert.deepEqual(calls.map((c) => c.agent), ['writer', 'writer', 'critic', 'writer', 'writer', 'writer']);
    assert.equal(run.pendingRequests.length, 1);
    assert.equal(run.pendingRequests[0]!.sourceExecutorId, 'writer');
  });

  it('waits for every approval of one reply, then runs the approved call and reports the rejected one with its reason', async () => {
    const { id, run } = await begin(
      [
        { toolCalls: [{ name: 'handoff_to_refund', id: 'call_to_refund' }] },
        {
          toolCalls: [
            { name: 'submit_refund', arguments: { order_id: 'A-100', amount: 249, reason: 'arrived damaged' }, id: 'call_refund_a' },
            { name: 'submit_refund', arguments: { order_id: 'B-200', amount: 89, reason: 'changed my mind' }, id: 'call_refund_b' },
          ],
        },
        { content: 'Refund for A-100 is submitted; B-200 was not refunded.' },
      ],
      'Refund A-100 and B-200',
    );
    assert.deepEqual(shape(run.events).slice(9), [
      'superstep_started:2',
      'executor_invoked:refund',
      'request_info:FunctionApprovalRequest@refund',
      'status:IN_PROGRESS_PENDING_REQUESTS',
      'request_info:FunctionApprovalRequest@refund',
      'executor_completed:refund',
      'checkpoint',
      'superstep_completed:2',
      'status:IDLE_WITH_PENDING_REQUESTS',
    ]);
    assert.equal(run.status, 'IDLE_WITH_PENDING_REQUESTS');
    assert.equal(run.pendingRequests.length, 2);
    const [first, second] = run.pendingRequests as [any, any];
    assert.notEqual(first.requestId, second.requestId);
    assert.deepEqual(
      run.pendingRequests.map((p) => [p.requestType, p.sourceExecutorId, p.data]),
      [
        ['FunctionApprovalRequest', 'refund', { callId: 'call_refund_a', tool: 'submit_refund', arguments: { order_id: 'A-100', amount: 249, reason: 'arrived damaged' }, agent: 'refund' }],
        ['FunctionApprovalRequest', 'refund', { callId: 'call_refund_b', tool: 'submit_refund', arguments: { order_id: 'B-200', amount: 89, reason: 'changed my mind' }, agent: 'refund' }],
      ],
    );
    assert.equal(stack.model.calls(id).length, 2);

    const partial = await answer(id, { [first.requestId]: { approved: true } });
    assert.deepEqual(shape(partial.events), ['started', 'status:IN_PROGRESS', 'checkpoint', 'status:IDLE_WITH_PENDING_REQUESTS']);
    assert.equal(partial.status, 'IDLE_WITH_PENDING_REQUESTS');
    assert.deepEqual(partial.pendingRequests.map((p) => p.requestId), [second.requestId]);
    assert.equal(stack.model.calls(id).length, 2, 'no model call while an approval of the batch is pending');
    assert.equal(await scheduled(id, 'runTool'), 0, 'no tool runs before the whole batch is decided');

    const done = await answer(id, { [second.requestId]: { approved: false, reason: 'too expensive' } });
    assert.deepEqual(shape(done.events), [
      'started',
      'status:IN_PROGRESS',
      'checkpoint',
      'superstep_started:3',
      'executor_invoked:refund',
      'output:refund',
      'executor_completed:refund',
      'request_info:HandoffAgentUserRequest@refund',
      'status:IN_PROGRESS_PENDING_REQUESTS',
      'checkpoint',
      'superstep_completed:3',
      'status:IDLE_WITH_PENDING_REQUESTS',
    ]);
    assert.equal(done.pendingRequests.length, 1);
    assert.equal(done.pendingRequests[0]!.sourceExecutorId, 'refund');
    assert.equal(await scheduled(id, 'runTool'), 1, 'only the approved call ran');

    const calls = stack.model.calls(id);
    assertAllCallsOk(calls);
    assert.deepEqual(calls.map((c) => c.agent), ['triage', 'refund', 'refund']);
    const results = toolResults(calls[2]!);
    assert.deepEqual([...results.keys()].sort(), ['call_refund_a', 'call_refund_b']);
    const approved = results.get('call_refund_a');
    assert.equal(approved.status, 'submitted');
    assert.match(approved.refund_id, /^RF-[0-9A-F]{8}$/);
    assert.equal(approved.order_id, 'A-100');
    assert.equal(approved.amount, 249);
    assert.deepEqual(results.get('call_refund_b'), { status: 'rejected', reason: 'too expensive' });
  });

  it('delivers an answer given as a list of messages as separate user messages to the agent that asked', async () => {
    const { id, run } = await begin(
      [
        { toolCalls: [{ name: 'handoff_to_order', id: 'call_to_order' }] },
        { content: 'Which order?' },
        { content: 'Anything else?' },
        { content: 'Noted.' },
      ],
      'Where is my order?',
    );
    const ask1 = run.pendingRequests[0]!;
    assert.equal(ask1.sourceExecutorId, 'order');

    const second = await answer(id, { [ask1.requestId]: ['It is A-101', 'and please hurry'] });
    assert.deepEqual(handoffs(second), []);
    const ask2 = second.pendingRequests[0]!;
    assert.equal(ask2.sourceExecutorId, 'order');
    let calls = stack.model.calls(id);
    assert.equal(calls.length, 3);
    assert.equal(calls[2]!.agent, 'order', 'the answer went to the agent that asked, not the start agent');
    assert.deepEqual(transcriptOf(calls[2]!), [
      `system:${stack.conversations.team('customer-support').agents.find((a) => a.name === 'order')!.instructions}`,
      'user:Where is my order?',
      'assistant:Which order?',
      'user:It is A-101',
      'user:and please hurry',
    ]);

    const third = await answer(id, { [ask2.requestId]: [{ role: 'user', content: 'c' }] });
    assert.equal(third.status, 'IDLE_WITH_PENDING_REQUESTS');
    assert.equal(third.pendingRequests[0]!.sourceExecutorId, 'order');
    calls = stack.model.calls(id);
    assertAllCallsOk(calls);
    assert.deepEqual(calls.map((c) => c.agent), ['triage', 'order', 'order', 'order']);
    assert.deepEqual(transcriptOf(calls[3]!).slice(-3), ['user:and please hurry', 'assistant:Anything else?', 'user:c']);

    const state = await stack.conversations.state(id);
    assert.equal(state.counters.userMessages, 4);
    assert.deepEqual(
      state.messages.map((m) => [m.author, m.text]),
      [
        ['user', 'Where is my order?'],
        ['order', 'Which order?'],
        ['user', 'It is A-101'],
        ['user', 'and please hurry'],
        ['order', 'Anything else?'],
        ['user', 'c'],
        ['order', 'Noted.'],
      ],
    );
  });
});
