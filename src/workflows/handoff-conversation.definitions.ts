/**
 * Definitions shared by the `handoffConversation` workflow and its clients: input/result types, Updates,
 * Queries, the rewind Signal and the durable formats (carry state, checkpoint record).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { RequestInfoEvent, ConversationEvent, RunState } from '../domain/events';
import type { ResolvedTeam } from '../domain/team';
import type { ChatMessage, TranscriptEntry } from '../domain/transcript';

/** The workflow type name; equal to the exported workflow function's name. */
export const WORKFLOW_TYPE = 'handoffConversation';

/** Tunables a conversation starts with (and keeps across continue-as-new). */
export interface ConversationSettings {
  /** Handoffs allowed without user input before the turn fails with `HandoffLoop` (team's `maxHandoffs` wins). */
  maxHandoffs: number;
  /** Continue-as-new at a quiet point once the run's history has more events than this (or the server suggests it). */
  continueAsNewAfterEvents: number;
  /** Start-to-close timeout of one model call attempt. */
  modelTimeoutMs: number;
  /** Heartbeat timeout of a model call: a dead worker is noticed after this long. */
  modelHeartbeatTimeoutMs: number;
  /** Start-to-close timeout of one tool call attempt. */
  toolTimeoutMs: number;
  /** Retry attempts for model and tool calls (Temporal owns retries). */
  maxAttempts: number;
  /** Keep the custom search attributes (status, agent, team, pending count) current for the Web UI. */
  searchAttributes: boolean;
}

/** Defaults for {@link ConversationSettings}. */
export const DEFAULT_SETTINGS: ConversationSettings = {
  maxHandoffs: 8,
  continueAsNewAfterEvents: 4000,
  modelTimeoutMs: 60_000,
  modelHeartbeatTimeoutMs: 15_000,
  toolTimeoutMs: 30_000,
  maxAttempts: 5,
  searchAttributes: true,
};

/** Where a conversation came from, when it did not start from a first message. */
export interface Lineage {
  forkedFrom?: { conversationId: string; checkpointId: string };
  rewinds: { fromRunId: string; checkpointId: string; at: string }[];
}

/** Carry-state format version. v1: the first format. */
export const CARRY_VERSION = 1 as const;

/**
 * Everything a run needs to continue a conversation: passed on continue-as-new and to start a fork.
 * Plain JSON; the event log is not carried (older events stay readable in earlier runs).
 */
export interface CarryState {
  v: typeof CARRY_VERSION;
  transcript: TranscriptEntry[];
  pending: RequestInfoEvent[];
  answered: Record<string, { digest: string; seq: number }>;
  activeAgent: string;
  next: string | null;
  status: RunState;
  ended: boolean;
  endReason: EndReason | null;
  counters: Counters;
  autonomousTurns: number;
  approvalBatch: ApprovalBatch | null;
  /**
   * Branch tag of ids minted from now on; redrawn with the workflow's random generator right after every
   * checkpoint, so a reset (which re-seeds it) gives ids after the restore point a new tag.
   */
  tag: string;
  lastCheckpointId: string | null;
  seq: number;
  previousRunId: string | null;
  lineage: Lineage;
}

/** Monotonic counters of a conversation. */
export interface Counters {
  superstep: number;
  request: number;
  checkpoint: number;
  userMessages: number;
  handoffsSinceUser: number;
}

/** Why a conversation ended. */
export type EndReason = 'user' | 'termination';

/** Approvals raised together by one agent reply; the agent runs again once all are decided. */
export interface ApprovalBatch {
  agent: string;
  calls: { requestId: string; callId: string; tool: string; argumentsJson: string }[];
  decisions: Record<string, { approved: boolean; reason?: string }>;
}

/** Workflow input. */
export interface HandoffConversationInput {
  v: 1;
  conversationId: string;
  team: ResolvedTeam;
  settings: ConversationSettings;
  /** Present on continue-as-new and for forks. */
  carry?: CarryState;
  /** For forks: the checkpoint this conversation started from. */
  forkedFrom?: { conversationId: string; checkpointId: string };
}

/** Workflow result, when the conversation ends. */
export interface HandoffConversationResult {
  conversationId: string;
  endReason: EndReason;
  messageCount: number;
  lastSeq: number;
}

/** Checkpoint record format version. v1: the first format. */
export const CHECKPOINT_VERSION = 1 as const;

/** The kinds of checkpoints. */
export const CheckpointKind = {
  entry: 'entry',
  superstep: 'superstep',
  response: 'response',
  fork: 'fork',
} as const;
export type CheckpointKind = (typeof CheckpointKind)[keyof typeof CheckpointKind];

/**
 * A checkpoint as stored in history (memo field {@link CHECKPOINT_MEMO_FIELD} of a WorkflowPropertiesModified
 * event). The transcript is not copied: `messageCount` is the length of the transcript prefix it refers to.
 */
export interface CheckpointRecord {
  v: typeof CHECKPOINT_VERSION;
  checkpointId: string;
  conversationId: string;
  workflowName: string;
  graphSignatureHash: string;
  previousCheckpointId: string | null;
  timestamp: string;
  iteration: number;
  kind: CheckpointKind;
  activeAgent: string;
  pendingRequests: RequestInfoEvent[];
  messageCount: number;
  eventSeq: number;
  /** Request/checkpoint counters at this point. */
  requestCounter: number;
  checkpointCounter: number;
  status: RunState;
}

/** The memo field that carries checkpoint records. */
export const CHECKPOINT_MEMO_FIELD = 'checkpoint';

/** A user-facing view of one message. */
export interface MessageView {
  role: 'user' | 'assistant';
  author: string;
  text: string;
}

/** What `getState` returns. */
export interface ConversationView {
  conversationId: string;
  team: string;
  graphSignatureHash: string;
  status: RunState;
  activeAgent: string;
  pendingRequests: RequestInfoEvent[];
  messages: MessageView[];
  messageCount: number;
  lastSeq: number;
  firstSeq: number;
  ended: boolean;
  endReason: EndReason | null;
  lastCheckpointId: string | null;
  counters: Counters;
  answered: Record<string, { digest: string; seq: number }>;
  lineage: Lineage;
  previousRunId: string | null;
}

/** Input of `getEvents`. */
export interface GetEventsInput {
  afterSeq: number;
  limit?: number;
}

/** Result of `getEvents`. */
export interface GetEventsResult {
  events: ConversationEvent[];
  /** The first seq this run holds; older events live in `previousRunId`. */
  firstSeq: number;
  lastSeq: number;
  status: RunState;
  /** The conversation has ended: no more events will come. */
  ended: boolean;
  previousRunId: string | null;
}

/** Input of `getModelRequest`: what one agent's model call sends. */
export interface GetModelRequestInput {
  agent: string;
  upTo: number;
}

/** Result of `getModelRequest`. */
export interface GetModelRequestResult {
  messages: ChatMessage[];
  tools: ModelToolDefinition[];
  model: string | null;
}

/** A tool as offered to the model (OpenAI function tool). */
export interface ModelToolDefinition {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

/** Input of `postMessage`: the first message of a conversation. */
export interface PostMessageInput {
  message: string | string[];
  /** The team the caller meant; a different one than the conversation's is a conflict. */
  team?: string;
}

/** Input of `respond`. */
export interface RespondInput {
  responses: Record<string, unknown>;
}

/** Result of `postMessage` and `respond`: where this input's events start in the log. */
export interface AcceptResult {
  /** Events caused by this input have seq > fromSeq. */
  fromSeq: number;
  applied: string[];
  duplicates: string[];
}

/** Input of the `rewound` signal, sent by the restore flow right after a reset. */
export interface RewoundInput {
  fromRunId: string;
  checkpointId: string;
  /** The last seq of the abandoned branch: events after the restore point are renumbered above it. */
  seqFloor: number;
  /** The seq just before the checkpoint's own event: events after it belong to the new branch. */
  baseSeq: number;
  /** Rewinds recorded before this one (a rewind to an earlier point would otherwise forget them). */
  previousRewinds?: Lineage['rewinds'];
}

/** Input of `getSnapshot`: the state at a checkpoint, for forks. */
export interface GetSnapshotInput {
  checkpointId: string;
}

/** The first message of a new conversation (used with update-with-start). */
export const postMessage = defineUpdate<AcceptResult, [PostMessageInput]>('postMessage');
/** Answers to pending requests; validated synchronously, all-or-nothing. */
export const respond = defineUpdate<AcceptResult, [RespondInput]>('respond');
/** The conversation's current state. */
export const getState = defineQuery<ConversationView>('getState');
/** Events with seq > afterSeq held by this run. */
export const getEvents = defineQuery<GetEventsResult, [GetEventsInput]>('getEvents');
/** The messages and tools one model call sends (read by the model activity so history stays flat). */
export const getModelRequest = defineQuery<GetModelRequestResult, [GetModelRequestInput]>('getModelRequest');
/** The carry state at a checkpoint of this run, or null when this run does not know it. */
export const getSnapshot = defineQuery<CarryState | null, [GetSnapshotInput]>('getSnapshot');
/** Sent right after a reset: records the lineage and keeps seq monotonic across the rewind. */
export const rewound = defineSignal<[RewoundInput]>('rewound');

/** Custom search attributes kept current for the Temporal Web UI and the conversation inbox. */
export const ConversationSearchAttributes = {
  status: defineSearchAttributeKey('ConversationStatus', SearchAttributeType.KEYWORD),
  activeAgent: defineSearchAttributeKey('ActiveAgent', SearchAttributeType.KEYWORD),
  team: defineSearchAttributeKey('TeamName', SearchAttributeType.KEYWORD),
  pendingRequests: defineSearchAttributeKey('PendingRequests', SearchAttributeType.INT),
} as const;

/** `name=Type` pairs for `temporal server start-dev --search-attribute` and `operator search-attribute create`. */
export const SEARCH_ATTRIBUTE_REGISTRATIONS: readonly { name: string; type: 'Keyword' | 'Int' }[] = [
  { name: 'ConversationStatus', type: 'Keyword' },
  { name: 'ActiveAgent', type: 'Keyword' },
  { name: 'TeamName', type: 'Keyword' },
  { name: 'PendingRequests', type: 'Int' },
];
