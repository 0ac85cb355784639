/**
 * The framework's run API over Temporal: `run({ message })`, `run({ responses })`, `run({ checkpointId })`,
 * `run({ checkpointId, responses })`, streaming or not, plus `runStream` and `sendResponsesStreaming` so the
 * two-step resume pattern works as written. Nothing is held in memory between calls except which conversation
 * this object talks to; breaking out of a stream releases nothing because nothing is locked.
 */
import type { ConversationEvent } from '../domain/events';
import type { ConversationClient, RunResult } from './conversation-client';
import { ConversationError, ErrorCode } from './errors';
import { TemporalCheckpointStorage } from './storage';

/** Arguments of {@link HandoffWorkflow.run}: exactly one of message / responses / checkpointId (+ responses). */
export interface RunArgs {
  message?: string | string[];
  responses?: Record<string, unknown>;
  checkpointId?: string;
  /** For `message`: the new conversation's id (default: generated). */
  conversationId?: string;
}

/** A stream of one call's events; iterate it, or await {@link RunStream.getFinalResponse}. */
export class RunStream implements AsyncIterable<ConversationEvent> {
  private readonly seen: ConversationEvent[] = [];
  private iterator: AsyncGenerator<ConversationEvent, unknown> | null;

  constructor(
    source: AsyncGenerator<ConversationEvent, unknown>,
    private readonly finish: (events: ConversationEvent[]) => Promise<RunResult>,
  ) {
    this.iterator = source;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ConversationEvent> {
    const it = this.iterator;
    if (!it) return;
    for (;;) {
      const next = await it.next();
      if (next.done) {
        this.iterator = null;
        return;
      }
      this.seen.push(next.value);
      yield next.value;
    }
  }

  /** Drains the rest of the stream and returns the result. */
  async getFinalResponse(): Promise<RunResult> {
    for await (const _ of this) {
      // Draining collects the events.
    }
    return this.finish(this.seen);
  }
}

/** One conversation's framework-style handle. */
export class HandoffWorkflow {
  /** The conversation this object talks to (set by `run({ message })` or `run({ checkpointId })`). */
  conversationId: string | null;
  readonly checkpointStorage: TemporalCheckpointStorage;

  constructor(
    private readonly conversations: ConversationClient,
    opts: { team?: string; conversationId?: string } = {},
  ) {
    this.team = opts.team;
    this.conversationId = opts.conversationId ?? null;
    this.checkpointStorage = new TemporalCheckpointStorage(conversations);
  }

  private readonly team: string | undefined;

  /** Runs and returns the result. */
  run(args: RunArgs & { stream?: false }): Promise<RunResult>;
  /** Runs and returns a stream of events. */
  run(args: RunArgs & { stream: true }): RunStream;
  run(args: RunArgs & { stream?: boolean }): Promise<RunResult> | RunStream {
    validateRunArgs(args);
    const stream = new RunStream(this.events(args), (events) => this.result(events));
    return args.stream ? stream : stream.getFinalResponse();
  }

  /** Era-A name: `run_stream(message | checkpoint_id)`. */
  runStream(args: { message?: string | string[]; checkpointId?: string; conversationId?: string }): RunStream {
    return this.run({ ...args, stream: true });
  }

  /** Era-A name: `send_responses_streaming(responses)`. */
  sendResponsesStreaming(responses: Record<string, unknown>): RunStream {
    return this.run({ responses, stream: true });
  }

  /** Era-A name: `send_responses(responses)`. */
  sendResponses(responses: Record<string, unknown>): Promise<RunResult> {
    return this.run({ responses });
  }

  private async *events(args: RunArgs): AsyncGenerator<ConversationEvent, unknown> {
    const c = this.conversations;
    if (args.message !== undefined) {
      const started = await c.start({ message: args.message, ...(this.team ? { team: this.team } : {}), ...(args.conversationId ? { conversationId: args.conversationId } : {}) });
      this.conversationId = started.conversationId;
      yield* c.follow(started.conversationId, started.accept.fromSeq);
      return;
    }
    if (args.checkpointId !== undefined) {
      const graph = this.team ? c.team(this.team).graphSignatureHash : undefined;
      // Bind before the first event: a caller may break out right after the re-emitted request (two-step pattern).
      const loc = await c.locate(args.checkpointId);
      this.conversationId = loc.record.conversationId;
      const restore = c.restore({
        checkpointId: args.checkpointId,
        ...(args.responses !== undefined ? { responses: args.responses } : {}),
        ...(graph ? { graphSignatureHash: graph } : {}),
      });
      let next = await restore.next();
      while (!next.done) {
        yield next.value;
        next = await restore.next();
      }
      this.conversationId = next.value;
      return;
    }
    if (!this.conversationId) {
      // The framework's answer when a fresh process forgets checkpoint_id.
      throw new ConversationError(ErrorCode.NO_PENDING_REQUESTS, 'No pending requests found: this workflow object is not bound to a conversation; pass checkpointId (or conversationId) first');
    }
    const accept = await c.respond(this.conversationId, args.responses);
    yield* c.follow(this.conversationId, accept.fromSeq);
  }

  private async result(events: ConversationEvent[]): Promise<RunResult> {
    if (!this.conversationId) throw new ConversationError(ErrorCode.INTERNAL, 'the run produced no conversation');
    return this.conversations.resultOf(this.conversationId, events);
  }
}

/** The framework's parameter rules, checked before anything is sent. */
export function validateRunArgs(args: RunArgs): void {
  const has = (k: keyof RunArgs) => args[k] !== undefined;
  if (has('message') && has('responses')) throw new ConversationError(ErrorCode.INVALID_BODY, 'run: pass message or responses, not both');
  if (has('message') && has('checkpointId')) throw new ConversationError(ErrorCode.INVALID_BODY, 'run: pass message or checkpointId, not both');
  if (!has('message') && !has('responses') && !has('checkpointId')) {
    throw new ConversationError(ErrorCode.INVALID_BODY, 'run: pass one of message, responses or checkpointId');
  }
}
