/**
 * The client side of a conversation over Temporal: start (update-with-start), answer (validated Updates),
 * read and follow the event log, list checkpoints, and restore (resume in place, rewind by reset, or fork).
 * Stateless: any process can serve any conversation; every Temporal call has a deadline.
 */
import { createHash, randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, type Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import Long from 'long';
import { checkResponses } from '../domain/answers';
import { RunState, isSettled, type ConversationEvent, type RequestInfoEvent } from '../domain/events';
import type { ResolvedTeam } from '../domain/team';
import {
  WORKFLOW_TYPE,
  getEvents,
  getSnapshot,
  getState,
  postMessage,
  respond,
  rewound,
  type AcceptResult,
  type ConversationSettings,
  type ConversationView,
  type HandoffConversationInput,
  type RewoundInput,
} from '../workflows/handoff-conversation.definitions';
import { ConversationError, ErrorCode, codeForFailureType, fromTemporalError } from './errors';
import { HistoryReader, conversationOfCheckpoint, type CheckpointLocation } from './history';

/** What a finished call reports (the framework's `WorkflowRunResult`, as plain data). */
export interface RunResult {
  conversationId: string;
  status: RunState;
  events: ConversationEvent[];
  outputs: Extract<ConversationEvent, { type: 'output' }>[];
  pendingRequests: RequestInfoEvent[];
}

/** How to restore a checkpoint. */
export type RestoreMode = 'rewind' | 'fork';

/** Options of {@link ConversationClient}. */
export interface ConversationClientOptions {
  client: Client;
  taskQueue: string;
  teams: ReadonlyMap<string, ResolvedTeam>;
  defaultTeam: string;
  settings: ConversationSettings;
  /** Deadline of each Temporal call. */
  temporalTimeoutMs: number;
  /** How long a call waits for a run to settle before returning what it has. */
  turnTimeoutMs: number;
  pollIntervalMs?: number;
}

const CONVERSATION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Checks a caller-chosen conversation id; throws INVALID_BODY naming the field. */
export function assertConversationId(id: unknown, field = 'conversationId'): asserts id is string {
  if (typeof id !== 'string' || !CONVERSATION_ID.test(id)) {
    throw new ConversationError(
      ErrorCode.INVALID_BODY,
      `${field}: expected 1-128 characters of letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The conversation adapter over a Temporal client. */
export class ConversationClient {
  readonly history: HistoryReader;
  private readonly poll: number;

  constructor(readonly options: ConversationClientOptions) {
    this.history = new HistoryReader(options.client);
    this.poll = options.pollIntervalMs ?? 100;
  }

  get client(): Client {
    return this.options.client;
  }

  /** Runs one Temporal call under the deadline, mapping its errors. */
  async call<T>(conversationId: string | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.client.withDeadline(Date.now() + this.options.temporalTimeoutMs, fn);
    } catch (err) {
      throw fromTemporalError(err, conversationId);
    }
  }

  private handle(conversationId: string, runId?: string): WorkflowHandle {
    return this.client.workflow.getHandle(conversationId, runId);
  }

  /** Resolves a team by name (default team when omitted); INVALID_BODY names the known ones. */
  team(name?: string): ResolvedTeam {
    const wanted = name ?? this.options.defaultTeam;
    const team = this.options.teams.get(wanted);
    if (!team) {
      throw new ConversationError(ErrorCode.INVALID_BODY, `team: unknown team "${wanted}"; known teams: ${[...this.options.teams.keys()].join(', ')}`);
    }
    return team;
  }

  /** Starts a conversation with its first message (update-with-start; the same message again is idempotent). */
  async start(opts: { message: string | string[]; team?: string; conversationId?: string }): Promise<{ conversationId: string; accept: AcceptResult }> {
    const team = this.team(opts.team);
    const conversationId = opts.conversationId ?? `conv-${randomUUID()}`;
    assertConversationId(conversationId);
    const input: HandoffConversationInput = { v: 1, conversationId, team, settings: this.options.settings };
    const first = typeof opts.message === 'string' ? opts.message : opts.message.join('\n');
    // The same first message (and team) again is the same request: same update id, so the server dedupes it.
    const digest = createHash('sha256').update(JSON.stringify([opts.message, team.name])).digest('hex').slice(0, 16);
    // A start operation can be executed once, so a retry builds a new one.
    const startOp = () =>
      new WithStartWorkflowOperation(WORKFLOW_TYPE, {
        workflowId: conversationId,
        taskQueue: this.options.taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: `${team.name}: ${first.slice(0, 120)}`,
      });
    const accept = await this.retryOnTimeout(() =>
      this.call(conversationId, () =>
        this.client.workflow.executeUpdateWithStart(postMessage, {
          args: [{ message: opts.message, team: team.name }],
          updateId: `first-message:${digest}`,
          startWorkflowOperation: startOp(),
        }),
      ),
    );
    return { conversationId, accept };
  }

  /**
   * Runs a query, retrying transient failures: right after a worker dies a query can wait on its sticky queue or
   * fail until the server hands it to another worker. Queries are safe to repeat; "not found" is final.
   */
  private async query<T>(conversationId: string, fn: () => Promise<T>): Promise<T> {
    // "No worker polls this queue" is final: retrying would only make the caller wait longer for the same 504.
    const transient = (err: unknown) =>
      err instanceof ConversationError &&
      !err.details?.noWorker &&
      (err.code === ErrorCode.TIMEOUT || err.code === ErrorCode.INTERNAL || err.code === ErrorCode.TEMPORAL_UNAVAILABLE);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.call(conversationId, fn);
      } catch (err) {
        if (attempt >= 2 || !transient(err)) throw err;
        await sleep(250 * attempt);
      }
    }
  }

  /**
   * Sends an Update once more after a timeout: it may have waited on a dead worker's sticky queue, and sending the
   * same update id again is safe (the server returns the first one's outcome).
   */
  private async retryOnTimeout<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ConversationError && err.code === ErrorCode.TIMEOUT && !err.details?.noWorker) return fn();
      throw err;
    }
  }

  /** The conversation's state (current run, or a given run). */
  async state(conversationId: string, runId?: string): Promise<ConversationView> {
    return this.query(conversationId, () => this.handle(conversationId, runId).query(getState));
  }

  /** The current run's id. */
  async currentRunId(conversationId: string): Promise<string> {
    const d = await this.call(conversationId, () => this.handle(conversationId).describe());
    return d.runId;
  }

  /**
   * Answers pending requests. Validated here first (so a bad answer writes nothing), then by the workflow's
   * Update validator. A repeated identical answer is harmless: it sends nothing and returns the original range.
   */
  async respond(conversationId: string, responses: unknown): Promise<AcceptResult> {
    const state = await this.state(conversationId);
    const check = checkResponses(responses, state.pendingRequests, state.answered);
    if (!check.ok) {
      if (state.ended && state.pendingRequests.length === 0 && check.rejection.failure !== 'RequestAlreadyAnswered') {
        throw new ConversationError(ErrorCode.NO_PENDING_REQUESTS, `conversation ${conversationId} has ended; restore a checkpoint to continue it`);
      }
      throw new ConversationError(codeForFailureType(check.rejection.failure), check.rejection.message);
    }
    if (check.accepted.length === 0) {
      const fromSeq = Math.min(...check.duplicates.map((id) => state.answered[id]!.seq));
      return { fromSeq, applied: [], duplicates: check.duplicates };
    }
    const ids = check.accepted.map((a) => `${a.requestId}:${a.digest}`).sort().join(',');
    const updateId = `respond:${createHash('sha256').update(ids).digest('hex').slice(0, 24)}`;
    return this.retryOnTimeout(() =>
      this.call(conversationId, () =>
        this.handle(conversationId).executeUpdate(respond, { args: [{ responses: responses as Record<string, unknown> }], updateId }),
      ),
    );
  }

  /** Events with seq > afterSeq, across continue-as-new runs. */
  async readEvents(conversationId: string, afterSeq: number, runId?: string): Promise<{ events: ConversationEvent[]; status: RunState; lastSeq: number; ended: boolean }> {
    const page = await this.query(conversationId, () => this.handle(conversationId, runId).query(getEvents, { afterSeq }));
    let events = page.events;
    if (page.firstSeq > afterSeq + 1 && page.previousRunId) {
      // Older events live in the previous run (closed runs still answer queries).
      const older = await this.readEvents(conversationId, afterSeq, page.previousRunId);
      events = [...older.events.filter((e) => e.seq < page.firstSeq), ...events];
    }
    return { events, status: page.status, lastSeq: page.lastSeq, ended: page.ended };
  }

  /**
   * Follows the log from afterSeq until a settled status (IDLE, IDLE_WITH_PENDING_REQUESTS, FAILED) or the turn
   * timeout; yields every event on the way.
   */
  async *follow(conversationId: string, afterSeq: number, opts: { signal?: AbortSignal; untilSettled?: boolean; runId?: string } = {}): AsyncGenerator<ConversationEvent, RunState | null> {
    const deadline = Date.now() + this.options.turnTimeoutMs;
    let after = afterSeq;
    const untilSettled = opts.untilSettled ?? true;
    for (;;) {
      if (opts.signal?.aborted) return null;
      const page = await this.readEvents(conversationId, after, opts.runId);
      for (const event of page.events) {
        after = event.seq;
        yield event;
        if (untilSettled && event.type === 'status' && isSettled(event.state)) return event.state;
      }
      if (untilSettled && Date.now() > deadline) return null;
      await sleep(this.poll);
    }
  }

  /** Collects a run's events into a {@link RunResult}. */
  async collect(conversationId: string, events: AsyncGenerator<ConversationEvent, unknown>): Promise<RunResult> {
    const all: ConversationEvent[] = [];
    for await (const e of events) all.push(e);
    return this.resultOf(conversationId, all);
  }

  /** Collects a restore's events; its conversation is the one the restore returns (a fork's is new). */
  async collectRestore(events: AsyncGenerator<ConversationEvent, string>): Promise<RunResult> {
    const all: ConversationEvent[] = [];
    let next = await events.next();
    while (!next.done) {
      all.push(next.value);
      next = await events.next();
    }
    return this.resultOf(next.value, all);
  }

  /** The result of a call that produced `events`: its settled status, outputs and what is pending now. */
  async resultOf(conversationId: string, events: ConversationEvent[]): Promise<RunResult> {
    const state = await this.state(conversationId);
    const lastStatus = [...events].reverse().find((e): e is Extract<ConversationEvent, { type: 'status' }> => e.type === 'status');
    // If the turn outlived the wait, report the live status (IN_PROGRESS), never a stale one.
    const status = lastStatus && isSettled(lastStatus.state) ? lastStatus.state : state.status;
    return {
      conversationId,
      status,
      events,
      outputs: events.filter((e): e is Extract<ConversationEvent, { type: 'output' }> => e.type === 'output'),
      pendingRequests: state.pendingRequests,
    };
  }

  /** Every checkpoint of a conversation's lineage, oldest first. */
  async checkpoints(conversationId: string): Promise<CheckpointLocation[]> {
    const runId = await this.currentRunId(conversationId);
    return this.call(conversationId, () => this.history.checkpoints(conversationId, runId));
  }

  /** Finds a checkpoint by id (its id names its conversation); CHECKPOINT_NOT_FOUND otherwise. */
  async locate(checkpointId: unknown, field = 'checkpointId'): Promise<CheckpointLocation> {
    if (typeof checkpointId !== 'string' || checkpointId.length === 0) {
      throw new ConversationError(ErrorCode.INVALID_BODY, `${field}: expected a checkpoint id string`);
    }
    const conversationId = conversationOfCheckpoint(checkpointId);
    const notFound = () => new ConversationError(ErrorCode.CHECKPOINT_NOT_FOUND, `${field}: checkpoint ${checkpointId} does not exist`);
    if (!conversationId) throw notFound();
    let list: CheckpointLocation[];
    try {
      list = await this.checkpoints(conversationId);
    } catch (err) {
      if (err instanceof ConversationError && err.code === ErrorCode.CONVERSATION_NOT_FOUND) throw notFound();
      throw err;
    }
    const found = list.find((c) => c.record.checkpointId === checkpointId);
    if (!found) throw notFound();
    return found;
  }

  /**
   * Restores a checkpoint and optionally answers its pending requests in the same call. The latest checkpoint of
   * a live, settled conversation resumes in place; an older one rewinds by a Temporal reset; `fork` starts a new
   * conversation. Answered requests are not re-emitted. Yields the events of the call; returns the conversation id.
   */
  async *restore(opts: {
    checkpointId: string;
    conversationId?: string;
    responses?: unknown;
    mode?: RestoreMode;
    forkConversationId?: string;
    graphSignatureHash?: string;
  }): AsyncGenerator<ConversationEvent, string> {
    const loc = await this.locate(opts.checkpointId);
    const record = loc.record;
    if (opts.conversationId && record.conversationId !== opts.conversationId) {
      throw new ConversationError(ErrorCode.CHECKPOINT_NOT_FOUND, `checkpointId: checkpoint ${opts.checkpointId} belongs to another conversation`);
    }
    if (opts.graphSignatureHash && opts.graphSignatureHash !== record.graphSignatureHash) {
      throw new ConversationError(
        ErrorCode.GRAPH_MISMATCH,
        `checkpointId: checkpoint ${opts.checkpointId} was taken with a different team graph (start agent, agents or routes changed); restore it with the team it was created with`,
        { checkpointGraph: record.graphSignatureHash, expectedGraph: opts.graphSignatureHash },
      );
    }
    let answered = new Set<string>();
    if (opts.responses !== undefined) {
      const check = checkResponses(opts.responses, record.pendingRequests, {});
      if (!check.ok) throw new ConversationError(codeForFailureType(check.rejection.failure), check.rejection.message);
      answered = new Set(check.accepted.map((a) => a.requestId));
    }
    const reemit = record.pendingRequests.filter((p) => !answered.has(p.requestId));

    if (opts.mode === 'fork') return yield* this.fork(loc, reemit, opts);

    const conversationId = record.conversationId;
    // Never rewind under a running turn: its accepted input and tool calls would be cut off mid-way.
    const state = await this.settledState(conversationId);
    const inPlace = state.lastCheckpointId === record.checkpointId && !state.ended && state.status !== RunState.FAILED && isSettled(state.status);
    if (inPlace) {
      for (const p of state.pendingRequests) if (!answered.has(p.requestId)) yield p;
      if (opts.responses === undefined) {
        yield { type: 'status', state: state.status, seq: state.lastSeq, at: new Date().toISOString() };
        return conversationId;
      }
      const accept = await this.respond(conversationId, opts.responses);
      yield* this.follow(conversationId, accept.fromSeq);
      return conversationId;
    }

    // Rewind: reset to the checkpoint's workflow task (a new run re-runs that task), then tell the new run.
    const currentRunId = await this.currentRunId(conversationId);
    const { ResetReapplyExcludeType } = temporal.api.enums.v1;
    const reset = await this.call(conversationId, () =>
      this.client.workflowService.resetWorkflowExecution({
        namespace: this.client.options.namespace,
        workflowExecution: { workflowId: conversationId, runId: loc.runId },
        workflowTaskFinishEventId: Long.fromNumber(loc.resetEventId),
        reason: `restore checkpoint ${record.checkpointId}`,
        requestId: randomUUID(),
        // Answers and signals after the restore point belong to the abandoned branch.
        resetReapplyExcludeTypes: [ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL, ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_UPDATE],
        identity: 'durable-handoff-restore',
      }),
    );
    const newRunId = reset.runId!;
    const signal: RewoundInput = {
      fromRunId: currentRunId,
      checkpointId: record.checkpointId,
      seqFloor: state.lastSeq,
      baseSeq: record.eventSeq - 1,
      previousRewinds: state.lineage.rewinds,
    };
    await this.call(conversationId, () => this.handle(conversationId, newRunId).signal(rewound, signal));
    // Wait until the new run has re-taken the checkpoint; what follows it belongs to this call.
    const deadline = Date.now() + this.options.turnTimeoutMs;
    let checkpointSeq: number | null = null;
    while (checkpointSeq === null) {
      const page = await this.query(conversationId, () => this.handle(conversationId, newRunId).query(getEvents, { afterSeq: signal.baseSeq }));
      const processed = page.events.some((e) => e.type === 'warning' && e.message.startsWith(`rewound to checkpoint ${record.checkpointId} `));
      const event = [...page.events].reverse().find((e) => e.type === 'checkpoint' && e.checkpointId === record.checkpointId);
      if (event && processed) checkpointSeq = event.seq;
      else if (Date.now() > deadline) throw new ConversationError(ErrorCode.TIMEOUT, `the rewound conversation ${conversationId} did not reach ${record.checkpointId} in time`);
      else await sleep(this.poll);
    }
    for (const p of reemit) yield p;
    if (opts.responses === undefined) {
      yield* this.follow(conversationId, checkpointSeq, { runId: newRunId });
      return conversationId;
    }
    // Let the re-run task settle first so the answers meet exactly the checkpoint's pending requests.
    for await (const e of this.follow(conversationId, checkpointSeq, { runId: newRunId })) {
      if (e.type === 'request_info' && answered.has(e.requestId)) continue;
      if (e.type === 'status' || e.type === 'superstep_completed') continue;
      yield e;
    }
    const accept = await this.respond(conversationId, opts.responses);
    yield* this.follow(conversationId, accept.fromSeq);
    return conversationId;
  }

  /** The state once the conversation has settled (waits up to the turn timeout). */
  private async settledState(conversationId: string): Promise<ConversationView> {
    const deadline = Date.now() + this.options.turnTimeoutMs;
    for (;;) {
      const state = await this.state(conversationId);
      if (isSettled(state.status) || state.ended) return state;
      if (Date.now() > deadline) {
        throw new ConversationError(ErrorCode.TIMEOUT, `conversation ${conversationId} is still running a turn; restore it once the turn has finished`);
      }
      await sleep(this.poll);
    }
  }

  private async *fork(
    loc: CheckpointLocation,
    reemit: RequestInfoEvent[],
    opts: { responses?: unknown; forkConversationId?: string },
  ): AsyncGenerator<ConversationEvent, string> {
    const record = loc.record;
    const source = record.conversationId;
    const snapshot = await this.query(source, () => this.handle(source, loc.runId).query(getSnapshot, { checkpointId: record.checkpointId }));
    const run = await this.call(source, () => this.history.run(source, loc.runId));
    if (!snapshot || !run.input) {
      throw new ConversationError(ErrorCode.CHECKPOINT_NOT_FOUND, `checkpointId: checkpoint ${record.checkpointId} cannot be forked (its run no longer holds its state)`);
    }
    const sourceInput = run.input;
    const conversationId = opts.forkConversationId ?? `${source.slice(0, 100)}-fork-${randomUUID().slice(0, 8)}`;
    assertConversationId(conversationId, 'conversationId');
    const input: HandoffConversationInput = {
      v: 1,
      conversationId,
      team: sourceInput.team,
      settings: sourceInput.settings,
      forkedFrom: { conversationId: source, checkpointId: record.checkpointId },
      // The fork draws its own id tag at start, so requests minted after the checkpoint are its own.
      carry: { ...snapshot, previousRunId: null },
    };
    await this.call(conversationId, () =>
      this.client.workflow.start(WORKFLOW_TYPE, {
        workflowId: conversationId,
        taskQueue: this.options.taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: `${sourceInput.team.name}: fork of ${source} at ${record.checkpointId}`,
      }),
    );
    for (const p of reemit) yield p;
    if (opts.responses === undefined) {
      yield* this.follow(conversationId, snapshot.seq);
      return conversationId;
    }
    for await (const e of this.follow(conversationId, snapshot.seq)) {
      if (e.type === 'status' || e.type === 'started') continue;
      yield e;
    }
    const accept = await this.respond(conversationId, opts.responses);
    yield* this.follow(conversationId, accept.fromSeq);
    return conversationId;
  }
}
