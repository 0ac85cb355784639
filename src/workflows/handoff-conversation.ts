/**
 * One conversation = one workflow execution. The handoff loop runs here, deterministically; every model call and
 * tool call is an activity; user input arrives as validated Updates; checkpoints are memo upserts whose history
 * events are reset points.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { ConversationActivities } from '../activities/contracts';
import { MAX_ANSWER_CHARS, MAX_TRANSCRIPT_CHARS, answerChars, checkResponses } from '../domain/answers';
import { RequestType, RunState, type RequestInfoEvent } from '../domain/events';
import { FailureType, NON_RETRYABLE_ACTIVITY_FAILURES } from '../domain/failures';
import { handoffToolName, renderForAgent, transcriptChars, type ToolCall } from '../domain/transcript';
import {
  carryOf,
  carryWithoutTranscript,
  createState,
  emit,
  nextCheckpointId,
  nextRequestId,
  settledStatus,
  terminationHolds,
  viewOf,
  type ConversationState,
} from './conversation-state';
import {
  CHECKPOINT_MEMO_FIELD,
  CHECKPOINT_VERSION,
  CheckpointKind,
  ConversationSearchAttributes,
  getEvents,
  getModelRequest,
  getSnapshot,
  getState,
  postMessage,
  respond,
  rewound,
  type AcceptResult,
  type CheckpointRecord,
  type HandoffConversationInput,
  type HandoffConversationResult,
  type ModelToolDefinition,
} from './handoff-conversation.definitions';

/** Invalid handoff attempts allowed in one turn before it fails. */
const MAX_INVALID_HANDOFFS = 3;
/** Model ↔ tool rounds allowed in one agent turn. */
const MAX_TOOL_ROUNDS = 10;
/** Largest page `getEvents` returns. */
const MAX_EVENTS_PAGE = 500;

type TurnOutcome =
  | { kind: 'handoff'; target: string }
  | { kind: 'reply'; text: string }
  | { kind: 'approval' }
  | { kind: 'failed'; errorType: string; message: string };

/** The durable handoff conversation. */
export async function handoffConversation(input: HandoffConversationInput): Promise<HandoffConversationResult> {
  const newTag = () => uuid4().replace(/-/g, '').slice(0, 6);
  const s = createState(input, newTag());
  s.transcriptChars = transcriptChars(s.transcript);
  const settings = input.settings;
  const model = proxyActivities<ConversationActivities>({
    startToCloseTimeout: settings.modelTimeoutMs,
    heartbeatTimeout: settings.modelHeartbeatTimeoutMs,
    retry: {
      initialInterval: '1s',
      backoffCoefficient: 2,
      maximumInterval: '30s',
      maximumAttempts: settings.maxAttempts,
      nonRetryableErrorTypes: [...NON_RETRYABLE_ACTIVITY_FAILURES],
    },
  });
  const tools = proxyActivities<ConversationActivities>({
    startToCloseTimeout: settings.toolTimeoutMs,
    retry: {
      initialInterval: '1s',
      backoffCoefficient: 2,
      maximumInterval: '30s',
      maximumAttempts: settings.maxAttempts,
      nonRetryableErrorTypes: [...NON_RETRYABLE_ACTIVITY_FAILURES],
    },
  });
  const boundary = proxyActivities<ConversationActivities>({
    startToCloseTimeout: '10s',
    retry: { initialInterval: '200ms', maximumInterval: '5s' },
  });
  const handoffTargets = new Map(input.team.agents.map((a) => [handoffToolName(a.name), a.name]));

  // ---- Handlers (registered before the first await so update-with-start finds them) ----

  setHandler(getState, () => viewOf(s));
  setHandler(getEvents, ({ afterSeq, limit }) => {
    const max = Math.min(limit ?? MAX_EVENTS_PAGE, MAX_EVENTS_PAGE);
    const events = s.events.filter((e) => e.seq > afterSeq).slice(0, max);
    return { events, firstSeq: s.firstSeq, lastSeq: s.seq, status: s.status, ended: s.ended, previousRunId: s.previousRunId };
  });
  setHandler(getModelRequest, ({ agent, upTo }) => {
    const spec = s.team.agents.find((a) => a.name === agent);
    if (!spec) throw new Error(`unknown agent ${agent}`);
    return { messages: renderForAgent(s.transcript, agent, spec.instructions, upTo), tools: toolsFor(agent), model: spec.model ?? null };
  });
  setHandler(getSnapshot, ({ checkpointId }) => {
    const snap = s.snapshots[checkpointId];
    return snap ? { ...snap.carry, transcript: s.transcript.slice(0, snap.messageCount) } : null;
  });

  setHandler(
    postMessage,
    ({ message }): AcceptResult => {
      const messages = typeof message === 'string' ? [message] : message;
      s.transcriptChars += messages.reduce((n, m) => n + m.length, 0);
      s.inbox.push({ kind: 'first-message', messages });
      const fromSeq = s.seq;
      beginRun();
      return { fromSeq, applied: [], duplicates: [] };
    },
    {
      validator: ({ message, team }) => {
        if (s.transcript.length > 0 || s.inbox.length > 0 || s.counters.superstep > 0) {
          throw reject(FailureType.ConversationExists, `conversation ${s.conversationId} already has its first message`);
        }
        if (team !== undefined && team !== s.team.name) {
          throw reject(FailureType.ConversationExists, `conversation ${s.conversationId} already exists with team ${s.team.name}`);
        }
        const list = typeof message === 'string' ? [message] : message;
        if (!Array.isArray(list) || list.length === 0 || list.some((m) => typeof m !== 'string' || m.trim() === '')) {
          throw reject(FailureType.InvalidInput, 'message: expected a non-empty string or a list of non-empty strings');
        }
        if (list.some((m) => m.length > MAX_ANSWER_CHARS)) {
          throw reject(FailureType.ConversationTooLarge, `message: longer than ${MAX_ANSWER_CHARS} characters`);
        }
      },
    },
  );

  setHandler(
    respond,
    ({ responses }): AcceptResult => {
      const check = checkResponses(responses, s.pending, s.answered);
      // The validator ran on the same state; this cannot fail unless the validator was skipped (replay).
      if (!check.ok) throw reject(check.rejection.failure, check.rejection.message);
      const fromSeq = check.accepted.length > 0 ? s.seq : Math.min(...check.duplicates.map((id) => s.answered[id]!.seq));
      if (check.accepted.length > 0) {
        for (const a of check.accepted) {
          const request = s.pending.find((p) => p.requestId === a.requestId)!;
          s.pending = s.pending.filter((p) => p.requestId !== a.requestId);
          s.answered[a.requestId] = { digest: a.digest, seq: fromSeq };
          s.transcriptChars += answerChars(a.answer);
          s.inbox.push({ kind: 'answer', request, accepted: a });
        }
        // After the pending set changed, so the published status and pending count agree.
        beginRun();
      }
      return { fromSeq, applied: check.accepted.map((a) => a.requestId), duplicates: check.duplicates };
    },
    {
      validator: ({ responses }) => {
        if (s.ended && s.pending.length === 0) {
          const dup = checkResponses(responses, [], s.answered);
          if (dup.ok) return;
          throw reject(FailureType.ConversationEnded, `conversation ${s.conversationId} has ended; restore a checkpoint to continue it`);
        }
        const check = checkResponses(responses, s.pending, s.answered);
        if (!check.ok) throw reject(check.rejection.failure, check.rejection.message);
        const added = check.accepted.reduce((n, a) => n + answerChars(a.answer), 0);
        if (added > 0 && s.transcriptChars + added > MAX_TRANSCRIPT_CHARS) {
          throw reject(
            FailureType.ConversationTooLarge,
            `responses: the conversation would exceed ${MAX_TRANSCRIPT_CHARS} characters of transcript; fork it from a checkpoint or start a new one`,
          );
        }
      },
    },
  );

  setHandler(rewound, (r) => {
    // Events this run emitted after the restore point are renumbered above the abandoned branch's last seq, so
    // seq stays monotonic for every reader. Events live only in workflow memory, so this is deterministic.
    const shift = Math.max(0, r.seqFloor - r.baseSeq);
    if (shift > 0) {
      for (const e of s.events) if (e.seq > r.baseSeq) e.seq += shift;
      for (const a of Object.values(s.answered)) if (a.seq > r.baseSeq) a.seq += shift;
      s.seq = Math.max(s.seq + shift, r.seqFloor);
    }
    s.lineage.rewinds = [...(r.previousRewinds ?? s.lineage.rewinds), { fromRunId: r.fromRunId, checkpointId: r.checkpointId, at: new Date().toISOString() }];
    emit(s, { type: 'warning', message: `rewound to checkpoint ${r.checkpointId} (the abandoned branch stays in run ${r.fromRunId})` });
  });

  // ---- Helpers that touch Temporal APIs ----

  function reject(type: string, message: string): ApplicationFailure {
    return ApplicationFailure.create({ type, message, nonRetryable: true });
  }

  function beginRun(): void {
    emit(s, { type: 'started' });
    setStatus(RunState.IN_PROGRESS);
    s.pendingReported = false;
  }

  function setStatus(state: RunState): void {
    s.status = state;
    emit(s, { type: 'status', state });
    publishSearchAttributes();
  }

  function publishSearchAttributes(): void {
    if (!settings.searchAttributes) return;
    upsertSearchAttributes([
      { key: ConversationSearchAttributes.status, value: s.ended ? 'ENDED' : s.status },
      { key: ConversationSearchAttributes.activeAgent, value: s.activeAgent },
      { key: ConversationSearchAttributes.team, value: s.team.name },
      { key: ConversationSearchAttributes.pendingRequests, value: s.pending.length },
    ]);
  }

  function takeCheckpoint(kind: CheckpointKind, previous: string | null = s.lastCheckpointId): void {
    const checkpointId = nextCheckpointId(s);
    const record: CheckpointRecord = {
      v: CHECKPOINT_VERSION,
      checkpointId,
      conversationId: s.conversationId,
      workflowName: s.team.name,
      graphSignatureHash: s.team.graphSignatureHash,
      previousCheckpointId: previous,
      timestamp: new Date().toISOString(),
      iteration: s.counters.superstep,
      kind,
      activeAgent: s.activeAgent,
      pendingRequests: s.pending,
      messageCount: s.transcript.length,
      eventSeq: s.seq + 1,
      requestCounter: s.counters.request,
      checkpointCounter: s.counters.checkpoint,
      status: s.status,
    };
    // The WorkflowPropertiesModified event this writes is the checkpoint's reset point.
    upsertMemo({ [CHECKPOINT_MEMO_FIELD]: record });
    s.lastCheckpointId = checkpointId;
    // Forks start with no answer history of their own, so the snapshot leaves `answered` out (it grows per turn).
    s.snapshots[checkpointId] = { carry: { ...carryWithoutTranscript(s, false) }, messageCount: s.transcript.length };
    emit(s, { type: 'checkpoint', checkpointId });
    // A new branch tag for everything minted after this checkpoint. Drawn here, after the checkpoint's own ids:
    // a reset to this checkpoint re-runs this task with a re-seeded generator, so the draw (and every later id)
    // differs from the abandoned branch while the checkpoint and its pending requests keep their ids.
    s.tag = newTag();
  }

  function toolsFor(agent: string): ModelToolDefinition[] {
    const spec = s.team.agents.find((a) => a.name === agent)!;
    const handoffs = (s.team.routes[agent] ?? []).map((target) => ({
      type: 'function' as const,
      function: {
        name: handoffToolName(target),
        description: s.team.agents.find((a) => a.name === target)?.description || `Handoff to the ${target} agent.`,
        parameters: { type: 'object', properties: {}, additionalProperties: false },
      },
    }));
    const own = spec.tools.map((t) => {
      const tool = s.team.tools[t]!;
      return { type: 'function' as const, function: { name: tool.name, description: tool.description, parameters: tool.parameters } };
    });
    return [...handoffs, ...own];
  }

  function raiseRequest(request: Omit<RequestInfoEvent, 'seq' | 'at' | 'type' | 'requestId'>): void {
    const event = emit(s, { type: 'request_info', requestId: nextRequestId(s), ...request } as RequestInfoEvent) as RequestInfoEvent;
    s.pending.push(event);
    if (!s.pendingReported) {
      s.pendingReported = true;
      setStatus(RunState.IN_PROGRESS_PENDING_REQUESTS);
    }
  }

  function addToolResult(agent: string, call: ToolCall, content: unknown): void {
    s.transcriptChars += typeof content === 'string' ? content.length : JSON.stringify(content).length;
    s.transcript.push({
      kind: 'tool',
      agent,
      toolCallId: call.id,
      toolName: call.function.name,
      content: typeof content === 'string' ? content : JSON.stringify(content),
    });
  }

  function failureOf(err: unknown): { errorType: string; message: string } {
    if (err instanceof ActivityFailure) {
      const cause = err.cause;
      if (cause instanceof ApplicationFailure) return { errorType: cause.type ?? FailureType.ModelError, message: cause.message };
      if (cause instanceof TimeoutFailure) return { errorType: 'Timeout', message: `activity timed out (${cause.timeoutType})` };
      return { errorType: FailureType.ModelError, message: cause?.message ?? err.message };
    }
    throw err; // Anything else is a bug: fail the workflow task so it retries after a fix.
  }

  async function executeTool(agent: string, call: ToolCall): Promise<void> {
    const result = await tools.runTool({
      conversationId: s.conversationId,
      agent,
      tool: call.function.name,
      callId: call.id,
      argumentsJson: call.function.arguments,
    });
    addToolResult(agent, call, result.content);
  }

  async function resolveApprovals(agent: string): Promise<void> {
    const batch = s.approvalBatch;
    if (!batch || batch.agent !== agent) return;
    s.approvalBatch = null;
    for (const c of batch.calls) {
      const call: ToolCall = { id: c.callId, type: 'function', function: { name: c.tool, arguments: c.argumentsJson } };
      const decision = batch.decisions[c.requestId];
      if (decision?.approved) {
        await executeTool(agent, call);
      } else {
        addToolResult(agent, call, { status: 'rejected', reason: decision?.reason ?? 'The user declined this call.' });
      }
    }
  }

  /** One agent turn: model ↔ tools until a handoff, a reply, pending approvals or a failure. */
  async function runAgentTurn(agent: string): Promise<TurnOutcome> {
    let invalidHandoffs = 0;
    let rounds = 0;
    await resolveApprovals(agent);
    for (;;) {
      const reply = await model.callModel({ conversationId: s.conversationId, runId: workflowInfo().runId, agent, upTo: s.transcript.length });
      const calls = reply.toolCalls.map((c, i) => ({ ...c, id: c.id || `call_${s.seq}_${i}` }));
      s.transcript.push({ kind: 'agent', agent, text: reply.text, toolCalls: calls });
      s.transcriptChars += transcriptChars(s.transcript.slice(-1));
      if (reply.text) emit(s, { type: 'output', executorId: agent, author: agent, text: reply.text });
      if (calls.length === 0) {
        const auto = s.team.autonomous;
        if (auto && auto.agents.includes(agent) && s.autonomousTurns < auto.turnLimit && !terminationHolds(s)) {
          s.autonomousTurns += 1;
          s.transcript.push({ kind: 'user', text: auto.prompt, privateTo: agent });
          continue;
        }
        s.autonomousTurns = 0;
        return { kind: 'reply', text: reply.text };
      }
      let target: string | null = null;
      let invalid = 0;
      const approvals: ToolCall[] = [];
      const runnable: ToolCall[] = [];
      const allowed = s.team.routes[agent] ?? [];
      const spec = s.team.agents.find((a) => a.name === agent)!;
      for (const call of calls) {
        const name = call.function.name;
        if (name.startsWith('handoff_to_')) {
          const wanted = handoffTargets.get(name);
          if (target !== null) {
            addToolResult(agent, call, { error: `Only one handoff per turn; this conversation is already being handed off to ${target}.` });
          } else if (!wanted || wanted === agent || !allowed.includes(wanted)) {
            invalid += 1;
            const who = wanted ?? name.slice('handoff_to_'.length);
            addToolResult(agent, call, {
              error: `Cannot hand off to "${who}": ${wanted === agent ? 'an agent cannot hand off to itself' : 'not an allowed target'}. Allowed targets: ${allowed.join(', ') || '(none)'}.`,
            });
          } else {
            target = wanted;
            addToolResult(agent, call, { handoff_to: wanted });
          }
        } else if (!spec.tools.includes(name) || !s.team.tools[name]) {
          addToolResult(agent, call, { error: `Unknown tool "${name}". Available tools: ${spec.tools.join(', ') || '(none)'}.` });
        } else if (s.team.tools[name]!.approval === 'always') {
          approvals.push(call);
        } else {
          runnable.push(call);
        }
      }
      if (target !== null) {
        for (const call of approvals) {
          addToolResult(agent, call, { error: `Not executed: the conversation was handed off to ${target} in the same turn.` });
        }
        for (const call of runnable) await executeTool(agent, call);
        return { kind: 'handoff', target };
      }
      for (const call of runnable) await executeTool(agent, call);
      if (approvals.length > 0) {
        const batch = { agent, calls: [] as { requestId: string; callId: string; tool: string; argumentsJson: string }[], decisions: {} };
        for (const call of approvals) {
          let args: Record<string, unknown>;
          try {
            const parsed: unknown = JSON.parse(call.function.arguments || '{}');
            if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new TypeError('not an object');
            args = parsed as Record<string, unknown>;
          } catch {
            addToolResult(agent, call, { error: 'Arguments must be a JSON object; call the tool again with valid JSON.' });
            continue;
          }
          raiseRequest({
            sourceExecutorId: agent,
            requestType: RequestType.FunctionApprovalRequest,
            data: { callId: call.id, tool: call.function.name, arguments: args, agent },
          });
          const requestId = s.pending[s.pending.length - 1]!.requestId;
          batch.calls.push({ requestId, callId: call.id, tool: call.function.name, argumentsJson: call.function.arguments });
        }
        if (batch.calls.length > 0) {
          s.approvalBatch = batch;
          return { kind: 'approval' };
        }
      }
      invalidHandoffs += invalid;
      if (invalidHandoffs >= MAX_INVALID_HANDOFFS) {
        return {
          kind: 'failed',
          errorType: FailureType.InvalidHandoff,
          message: `${agent} tried ${invalidHandoffs} invalid handoffs in one turn; allowed targets: ${allowed.join(', ') || '(none)'}`,
        };
      }
      rounds += 1;
      if (rounds >= MAX_TOOL_ROUNDS) {
        return { kind: 'failed', errorType: FailureType.ToolLoop, message: `${agent} called tools ${rounds} times without answering` };
      }
    }
  }

  /** Runs agents until the conversation waits for the user, ends or fails. */
  async function runSupersteps(): Promise<void> {
    let failed = false;
    while (s.next !== null && !s.ended) {
      const agent = s.next;
      if (terminationHolds(s)) {
        end('termination');
        break;
      }
      s.counters.superstep += 1;
      const iteration = s.counters.superstep;
      s.activeAgent = agent;
      emit(s, { type: 'superstep_started', iteration });
      emit(s, { type: 'executor_invoked', executorId: agent });
      let outcome: TurnOutcome;
      try {
        outcome = await runAgentTurn(agent);
      } catch (err) {
        outcome = { kind: 'failed', ...failureOf(err) };
      }
      if (outcome.kind === 'handoff') {
        const limit = s.team.maxHandoffs ?? settings.maxHandoffs;
        if (s.counters.handoffsSinceUser >= limit) {
          outcome = { kind: 'failed', errorType: FailureType.HandoffLoop, message: `more than ${limit} handoffs without user input` };
        }
      }
      emit(s, { type: 'executor_completed', executorId: agent });
      s.next = null;
      switch (outcome.kind) {
        case 'handoff':
          // The framework resets the autonomous turn counter on every handoff.
          s.autonomousTurns = 0;
          s.counters.handoffsSinceUser += 1;
          emit(s, { type: 'handoff_sent', source: agent, target: outcome.target });
          s.next = outcome.target;
          s.activeAgent = outcome.target;
          break;
        case 'reply':
          if (terminationHolds(s)) {
            end('termination');
          } else {
            raiseRequest({
              sourceExecutorId: agent,
              requestType: RequestType.HandoffAgentUserRequest,
              data: { agentResponse: { agent, text: outcome.text } },
            });
          }
          break;
        case 'approval':
          break;
        case 'failed':
          failed = true;
          emit(s, { type: 'failed', details: { errorType: outcome.errorType, message: outcome.message, executorId: agent } });
          break;
      }
      // A failed superstep takes no checkpoint: the latest checkpoint stays the point to retry from.
      if (!failed) takeCheckpoint(CheckpointKind.superstep);
      emit(s, { type: 'superstep_completed', iteration });
      if (failed) break;
    }
    setStatus(settledStatus(s, failed));
  }

  function end(reason: 'user' | 'termination'): void {
    s.ended = true;
    s.endReason = reason;
    s.next = null;
  }

  /** Applies accepted input (after the durable boundary) and takes the entry / response checkpoint. */
  function applyInbox(): void {
    const items = s.inbox.splice(0);
    let kind: CheckpointKind = CheckpointKind.response;
    for (const item of items) {
      if (item.kind === 'first-message') {
        kind = CheckpointKind.entry;
        for (const text of item.messages) s.transcript.push({ kind: 'user', text });
        s.counters.userMessages += item.messages.length;
        s.next = s.team.startAgent;
        s.activeAgent = s.team.startAgent;
        continue;
      }
      const { request, accepted } = item;
      const answer = accepted.answer;
      if (answer.kind === 'end') {
        end('user');
      } else if (answer.kind === 'messages') {
        for (const text of answer.messages) s.transcript.push({ kind: 'user', text });
        s.counters.userMessages += answer.messages.length;
        s.counters.handoffsSinceUser = 0;
        s.next = request.sourceExecutorId;
        s.activeAgent = request.sourceExecutorId;
      } else if (s.approvalBatch) {
        s.approvalBatch.decisions[request.requestId] = { approved: answer.approved, ...(answer.reason !== undefined ? { reason: answer.reason } : {}) };
        const batch = s.approvalBatch;
        if (batch.calls.every((c) => batch.decisions[c.requestId] !== undefined)) {
          s.next = batch.agent;
          s.activeAgent = batch.agent;
        }
      }
    }
    takeCheckpoint(kind, kind === CheckpointKind.entry ? null : s.lastCheckpointId);
  }

  function rolloverDue(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > settings.continueAsNewAfterEvents;
  }

  // ---- Main loop ----

  if (input.forkedFrom) {
    // A fork starts with a checkpoint of its own whose parent is the source checkpoint, then settles (or runs on
    // when the checkpoint was taken between two agents).
    beginRun();
    takeCheckpoint(CheckpointKind.fork, input.forkedFrom.checkpointId);
    if (s.next !== null) await runSupersteps();
    else setStatus(settledStatus(s, false));
  }

  for (;;) {
    await condition(() => s.inbox.length > 0 || s.ended || (s.next === null && rolloverDue()));
    if (s.inbox.length === 0 && !s.ended) {
      // Continue-as-new only at a quiet point: nothing running, no input waiting, every handler finished.
      await condition(allHandlersFinished);
      if (s.inbox.length === 0) {
        await continueAsNew<typeof handoffConversation>({ ...input, carry: carryOf(s, workflowInfo().runId), forkedFrom: undefined });
      }
      continue;
    }
    if (s.inbox.length > 0) {
      // Durable boundary: the Update that accepted this input completes with this workflow task. Taking the
      // checkpoint in the next task makes its reset point include the accepted Update.
      // Histories recorded before this patch used a 1 ms timer here (the server fires it up to a second late).
      if (patched('input-boundary-activity')) await boundary.inputBoundary();
      else await sleep(1);
      applyInbox();
      if (s.ended) {
        setStatus(settledStatus(s, false));
        break;
      }
      await runSupersteps();
    }
    if (s.ended) break;
  }
  await condition(allHandlersFinished);
  return { conversationId: s.conversationId, endReason: s.endReason ?? 'user', messageCount: s.transcript.length, lastSeq: s.seq };
}
