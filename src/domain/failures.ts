/**
 * The closed list of typed failures. Workflows fail on purpose only with these `ApplicationFailure` types; the
 * API maps each one to an HTTP status and a stable error code.
 */
export const FailureType = {
  /** An agent tried to hand off to an unknown, disallowed or self target three times in one turn. */
  InvalidHandoff: 'InvalidHandoff',
  /** More handoffs than the team allows happened without user input. */
  HandoffLoop: 'HandoffLoop',
  /** An agent kept calling ordinary tools without ever answering. */
  ToolLoop: 'ToolLoop',
  /** The model call failed for good (non-retryable error, or retries exhausted). */
  ModelError: 'ModelError',
  /** A tool call failed for good. */
  ToolError: 'ToolError',
  /** A model error that must not be retried (4xx other than 408/409/429). */
  ModelRequestRejected: 'ModelRequestRejected',
  /** A response names a request id that is not pending. */
  UnknownRequest: 'UnknownRequest',
  /** Responses were sent while nothing is pending. */
  NoPendingRequests: 'NoPendingRequests',
  /** A response does not have the shape its request expects. */
  ResponseTypeMismatch: 'ResponseTypeMismatch',
  /** A different answer to a request that was already answered. */
  RequestAlreadyAnswered: 'RequestAlreadyAnswered',
  /** The conversation already has its first message. */
  ConversationExists: 'ConversationExists',
  /** The conversation has ended; it accepts no more input (it can still be restored from a checkpoint). */
  ConversationEnded: 'ConversationEnded',
  /** Accepting the input would grow the transcript past what one query or payload can carry. */
  ConversationTooLarge: 'ConversationTooLarge',
  /** The input itself is malformed (a field has the wrong type). */
  InvalidInput: 'InvalidInput',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** The failure types a model or tool activity may raise that must not be retried. */
export const NON_RETRYABLE_ACTIVITY_FAILURES: readonly string[] = [FailureType.ModelRequestRejected, FailureType.ToolError];
