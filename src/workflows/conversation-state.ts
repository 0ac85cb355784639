/**
 * The in-workflow conversation state and its deterministic helpers: the event log, id minting, views and
 * carry snapshots. No Temporal APIs here; everything lives in one object created per run (never at module
 * level: workflow modules are shared between runs).
 */
import type { AcceptedAnswer } from '../domain/answers';
import { RunState, type ConversationEvent, type NewEvent, type RequestInfoEvent } from '../domain/events';
import type { ResolvedTeam } from '../domain/team';
import type { TranscriptEntry } from '../domain/transcript';
import {
  CARRY_VERSION,
  type ApprovalBatch,
  type CarryState,
  type ConversationSettings,
  type ConversationView,
  type Counters,
  type EndReason,
  type HandoffConversationInput,
  type Lineage,
  type MessageView,
} from './handoff-conversation.definitions';

/** One item of input accepted by an Update and not yet applied by the main loop. */
export type InboxItem = { kind: 'first-message'; messages: string[] } | { kind: 'answer'; request: RequestInfoEvent; accepted: AcceptedAnswer };

/** The whole mutable state of one run. */
export interface ConversationState {
  readonly conversationId: string;
  readonly team: ResolvedTeam;
  readonly settings: ConversationSettings;
  transcript: TranscriptEntry[];
  /** Characters of text in the transcript (kept under MAX_TRANSCRIPT_CHARS for user input). */
  transcriptChars: number;
  events: ConversationEvent[];
  firstSeq: number;
  seq: number;
  pending: RequestInfoEvent[];
  answered: Record<string, { digest: string; seq: number }>;
  inbox: InboxItem[];
  activeAgent: string;
  next: string | null;
  status: RunState;
  ended: boolean;
  endReason: EndReason | null;
  counters: Counters;
  autonomousTurns: number;
  approvalBatch: ApprovalBatch | null;
  tag: string;
  lastCheckpointId: string | null;
  previousRunId: string | null;
  lineage: Lineage;
  /** Whether this run (in the framework's sense: one accepted input) already reported pending requests. */
  pendingReported: boolean;
  /** Carry snapshots per checkpoint of this run, transcript as a prefix length, for forks. */
  snapshots: Record<string, { carry: Omit<CarryState, 'transcript'>; messageCount: number }>;
}

/** Builds the state for a run: fresh, or from carry (continue-as-new, fork). `tag` is a fresh random branch tag. */
export function createState(input: HandoffConversationInput, tag: string): ConversationState {
  const c = input.carry;
  const base = {
    conversationId: input.conversationId,
    team: input.team,
    settings: input.settings,
    inbox: [],
    events: [],
    pendingReported: false,
    snapshots: {},
    transcriptChars: 0,
  };
  if (!c) {
    return {
      ...base,
      transcript: [],
      firstSeq: 1,
      seq: 0,
      pending: [],
      answered: {},
      activeAgent: input.team.startAgent,
      next: null,
      status: RunState.IDLE,
      ended: false,
      endReason: null,
      counters: { superstep: 0, request: 0, checkpoint: 0, userMessages: 0, handoffsSinceUser: 0 },
      autonomousTurns: 0,
      approvalBatch: null,
      tag,
      lastCheckpointId: null,
      previousRunId: null,
      lineage: { rewinds: [], ...(input.forkedFrom ? { forkedFrom: input.forkedFrom } : {}) },
    };
  }
  return {
    ...base,
    transcript: c.transcript,
    firstSeq: c.seq + 1,
    seq: c.seq,
    pending: c.pending,
    answered: c.answered,
    activeAgent: c.activeAgent,
    next: c.next,
    status: c.status,
    ended: c.ended,
    endReason: c.endReason,
    counters: c.counters,
    autonomousTurns: c.autonomousTurns,
    approvalBatch: c.approvalBatch,
    // A fork draws its own tag; continue-as-new keeps the branch's tag.
    tag: input.forkedFrom ? tag : c.tag,
    lastCheckpointId: c.lastCheckpointId,
    previousRunId: c.previousRunId,
    lineage: input.forkedFrom ? { ...c.lineage, forkedFrom: input.forkedFrom } : c.lineage,
  };
}

/** The carry state of the current moment (for continue-as-new). */
export function carryOf(s: ConversationState, previousRunId: string): CarryState {
  return { ...carryWithoutTranscript(s), transcript: s.transcript, previousRunId };
}

/** The carry state without the transcript (checkpoint snapshots refer to a transcript prefix instead). */
export function carryWithoutTranscript(s: ConversationState, withAnswers = true): Omit<CarryState, 'transcript'> {
  // Deep copies: the snapshot must not change when the live state does.
  return structuredCloneJson({
    v: CARRY_VERSION,
    pending: s.pending,
    answered: withAnswers ? s.answered : {},
    activeAgent: s.activeAgent,
    next: s.next,
    status: s.status,
    ended: s.ended,
    endReason: s.endReason,
    counters: s.counters,
    autonomousTurns: s.autonomousTurns,
    approvalBatch: s.approvalBatch,
    tag: s.tag,
    lastCheckpointId: s.lastCheckpointId,
    seq: s.seq,
    previousRunId: s.previousRunId,
    lineage: s.lineage,
  });
}

function structuredCloneJson<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Appends an event with the next seq; `Date` is deterministic in workflow code (the task's start time). */
export function emit(s: ConversationState, event: NewEvent): ConversationEvent {
  s.seq += 1;
  const full = { ...event, seq: s.seq, at: new Date().toISOString() } as ConversationEvent;
  s.events.push(full);
  return full;
}

/**
 * Mints the next request id: `r<n>.<tag>`. The tag was drawn in an earlier workflow task, so re-running the
 * task at a restore point mints the same id; a reset re-seeds the random generator, so ids after the restore
 * point carry a new tag and never collide with the abandoned branch.
 */
export function nextRequestId(s: ConversationState): string {
  s.counters.request += 1;
  return `r${s.counters.request}.${s.tag}`;
}

/** Mints the next checkpoint id: `<conversationId>~c<n>.<tag>`, URL-safe and unique in the lineage. */
export function nextCheckpointId(s: ConversationState): string {
  s.counters.checkpoint += 1;
  return `${s.conversationId}~c${s.counters.checkpoint}.${s.tag}`;
}

/** The status that matches what is actually pending. */
export function settledStatus(s: ConversationState, failed: boolean): RunState {
  if (failed) return RunState.FAILED;
  return s.pending.length > 0 ? RunState.IDLE_WITH_PENDING_REQUESTS : RunState.IDLE;
}

/** The user-facing messages of the transcript. */
export function messageViews(transcript: readonly TranscriptEntry[]): MessageView[] {
  const out: MessageView[] = [];
  for (const e of transcript) {
    if (e.kind === 'user' && e.privateTo === undefined) out.push({ role: 'user', author: 'user', text: e.text });
    if (e.kind === 'agent' && e.text) out.push({ role: 'assistant', author: e.agent, text: e.text });
  }
  return out;
}

/** The `getState` view. */
export function viewOf(s: ConversationState): ConversationView {
  return {
    conversationId: s.conversationId,
    team: s.team.name,
    graphSignatureHash: s.team.graphSignatureHash,
    status: s.status,
    activeAgent: s.activeAgent,
    pendingRequests: s.pending,
    messages: messageViews(s.transcript),
    messageCount: s.transcript.length,
    lastSeq: s.seq,
    firstSeq: s.firstSeq,
    ended: s.ended,
    endReason: s.endReason,
    lastCheckpointId: s.lastCheckpointId,
    counters: s.counters,
    answered: s.answered,
    lineage: s.lineage,
    previousRunId: s.previousRunId,
  };
}

/** Whether the team's declarative termination condition holds over the visible conversation. */
export function terminationHolds(s: ConversationState): boolean {
  const t = s.team.termination;
  if (!t) return false;
  if (t.maxUserMessages !== undefined && s.counters.userMessages >= t.maxUserMessages) return true;
  if (t.stopPhrases?.length) {
    for (let i = s.transcript.length - 1; i >= 0; i--) {
      const e = s.transcript[i]!;
      const text = e.kind === 'user' && e.privateTo === undefined ? e.text : e.kind === 'agent' ? e.text : '';
      if (!text) continue;
      const lower = text.toLowerCase();
      return t.stopPhrases.some((p) => lower.includes(p.toLowerCase()));
    }
  }
  return false;
}
