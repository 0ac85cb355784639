/**
 * The conversation's event log (framework event names) and run statuses. Every event carries a
 * conversation-wide, monotonic `seq`.
 */

/** Run statuses, as in the framework's `WorkflowRunState` (STARTED is never emitted there either). */
export const RunState = {
  IN_PROGRESS: 'IN_PROGRESS',
  IN_PROGRESS_PENDING_REQUESTS: 'IN_PROGRESS_PENDING_REQUESTS',
  IDLE: 'IDLE',
  IDLE_WITH_PENDING_REQUESTS: 'IDLE_WITH_PENDING_REQUESTS',
  FAILED: 'FAILED',
  CANCELLED: 'CANCELLED',
} as const;
export type RunState = (typeof RunState)[keyof typeof RunState];

/** Statuses after which a run has stopped making progress on its own. */
export const SETTLED_STATES: readonly RunState[] = [
  RunState.IDLE,
  RunState.IDLE_WITH_PENDING_REQUESTS,
  RunState.FAILED,
  RunState.CANCELLED,
];

/** Whether a status means the run has settled (nothing runs until new input arrives). */
export function isSettled(state: RunState): boolean {
  return SETTLED_STATES.includes(state);
}

/** The request types a conversation can raise. */
export const RequestType = {
  HandoffAgentUserRequest: 'HandoffAgentUserRequest',
  FunctionApprovalRequest: 'FunctionApprovalRequest',
} as const;
export type RequestType = (typeof RequestType)[keyof typeof RequestType];

/** Payload of a user-input request: the reply of the agent that asked. */
export interface HandoffAgentUserRequestData {
  agentResponse: { agent: string; text: string };
}

/** Payload of a tool-approval request. */
export interface FunctionApprovalRequestData {
  callId: string;
  tool: string;
  arguments: Record<string, unknown>;
  agent: string;
}

/** Details of a `failed` event. */
export interface FailureDetails {
  errorType: string;
  message: string;
  executorId: string | null;
}

interface EventBase {
  seq: number;
  /** ISO time of the workflow task that produced the event. */
  at: string;
}

/** A `request_info` event; also the unit stored in checkpoints' `pendingRequests`. */
export type RequestInfoEvent = EventBase & {
  type: 'request_info';
  requestId: string;
  sourceExecutorId: string;
} & (
    | { requestType: typeof RequestType.HandoffAgentUserRequest; data: HandoffAgentUserRequestData }
    | { requestType: typeof RequestType.FunctionApprovalRequest; data: FunctionApprovalRequestData }
  );

/** Every event of the log. */
export type ConversationEvent =
  | (EventBase & { type: 'started' })
  | (EventBase & { type: 'status'; state: RunState })
  | (EventBase & { type: 'superstep_started'; iteration: number })
  | (EventBase & { type: 'superstep_completed'; iteration: number })
  | (EventBase & { type: 'executor_invoked'; executorId: string })
  | (EventBase & { type: 'executor_completed'; executorId: string })
  | (EventBase & { type: 'output'; executorId: string; author: string; text: string })
  | (EventBase & { type: 'handoff_sent'; source: string; target: string })
  | RequestInfoEvent
  | (EventBase & { type: 'checkpoint'; checkpointId: string })
  | (EventBase & { type: 'warning'; message: string })
  | (EventBase & { type: 'failed'; details: FailureDetails });

/** The event type names. */
export type ConversationEventType = ConversationEvent['type'];

/** Distributes `Omit` over a union, so each member keeps its own fields. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An event before the log assigns `seq` and `at`. */
export type NewEvent = DistributiveOmit<ConversationEvent, 'seq' | 'at'>;
