/**
 * The adapter's one error class, its stable codes (the HTTP API's `error.code`), and the one function that maps
 * Temporal client errors onto them.
 */
import {
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../domain/failures';

/** Stable error codes. */
export const ErrorCode = {
  INVALID_BODY: 'INVALID_BODY',
  CONVERSATION_NOT_FOUND: 'CONVERSATION_NOT_FOUND',
  CHECKPOINT_NOT_FOUND: 'CHECKPOINT_NOT_FOUND',
  REQUEST_ALREADY_ANSWERED: 'REQUEST_ALREADY_ANSWERED',
  CONVERSATION_EXISTS: 'CONVERSATION_EXISTS',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNKNOWN_REQUEST: 'UNKNOWN_REQUEST',
  NO_PENDING_REQUESTS: 'NO_PENDING_REQUESTS',
  RESPONSE_TYPE_MISMATCH: 'RESPONSE_TYPE_MISMATCH',
  GRAPH_MISMATCH: 'GRAPH_MISMATCH',
  TEMPORAL_UNAVAILABLE: 'TEMPORAL_UNAVAILABLE',
  TIMEOUT: 'TIMEOUT',
  NOT_SUPPORTED: 'NOT_SUPPORTED',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error of the conversation adapter, with a stable code and optional details. */
export class ConversationError extends Error {
  override readonly name = 'ConversationError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

const FAILURE_CODES: Record<string, ErrorCode> = {
  [FailureType.UnknownRequest]: ErrorCode.UNKNOWN_REQUEST,
  [FailureType.NoPendingRequests]: ErrorCode.NO_PENDING_REQUESTS,
  [FailureType.ConversationEnded]: ErrorCode.NO_PENDING_REQUESTS,
  [FailureType.ResponseTypeMismatch]: ErrorCode.RESPONSE_TYPE_MISMATCH,
  [FailureType.RequestAlreadyAnswered]: ErrorCode.REQUEST_ALREADY_ANSWERED,
  [FailureType.ConversationExists]: ErrorCode.CONVERSATION_EXISTS,
  [FailureType.InvalidInput]: ErrorCode.INVALID_BODY,
  [FailureType.ConversationTooLarge]: ErrorCode.PAYLOAD_TOO_LARGE,
};

/** The error code for a workflow failure type (validator rejections). */
export function codeForFailureType(type: string | undefined | null): ErrorCode {
  return (type && FAILURE_CODES[type]) || ErrorCode.INTERNAL;
}

/** gRPC status codes used below (from the gRPC spec). */
const GrpcStatus = { CANCELLED: 1, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, FAILED_PRECONDITION: 9, UNAVAILABLE: 14 } as const;

function grpcCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.cause?.code === 'number') return e.cause.code;
  return undefined;
}

/** Maps any error from a Temporal client call to a {@link ConversationError}. */
export function fromTemporalError(err: unknown, conversationId?: string): ConversationError {
  if (err instanceof ConversationError) return err;
  const what = conversationId ? `conversation ${conversationId}` : 'conversation';
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure) return new ConversationError(codeForFailureType(cause.type), cause.message);
    return new ConversationError(ErrorCode.INTERNAL, cause?.message ?? err.message);
  }
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
    return new ConversationError(ErrorCode.TIMEOUT, `no worker took the work for ${what} in time; is a worker running?`);
  }
  if (err instanceof WorkflowNotFoundError) return new ConversationError(ErrorCode.CONVERSATION_NOT_FOUND, `${what} not found`);
  if (err instanceof WorkflowExecutionAlreadyStartedError) {
    return new ConversationError(ErrorCode.CONVERSATION_EXISTS, `${what} already exists`);
  }
  const code = grpcCode(err);
  const message = (err as Error)?.message ?? String(err);
  const causeMessage = (err as { cause?: { message?: string } })?.cause?.message ?? '';
  if (code === GrpcStatus.FAILED_PRECONDITION && /no poller|worker may be down/i.test(causeMessage)) {
    return new ConversationError(ErrorCode.TIMEOUT, `no worker is polling the task queue of ${what}; start a worker (npm run worker)`, { noWorker: true });
  }
  if (/wasn't processed by worker|was not processed by worker/i.test(message + causeMessage)) {
    return new ConversationError(ErrorCode.TIMEOUT, `no worker processed the work for ${what} in time; retry the same request`);
  }
  if (code === GrpcStatus.NOT_FOUND) return new ConversationError(ErrorCode.CONVERSATION_NOT_FOUND, `${what} not found`);
  if (code === GrpcStatus.DEADLINE_EXCEEDED || code === GrpcStatus.CANCELLED || /deadline|timed? ?out/i.test(message)) {
    return new ConversationError(ErrorCode.TIMEOUT, `Temporal did not answer for ${what} in time (no worker running?): ${message}`);
  }
  if (code === GrpcStatus.UNAVAILABLE || /ECONNREFUSED|UNAVAILABLE|connect/i.test(message)) {
    return new ConversationError(ErrorCode.TEMPORAL_UNAVAILABLE, `Temporal is unreachable: ${message}`);
  }
  const details = code !== undefined || causeMessage ? { ...(code !== undefined ? { grpcCode: code } : {}), ...(causeMessage ? { cause: causeMessage } : {}) } : undefined;
  if (err instanceof ServiceError) return new ConversationError(ErrorCode.INTERNAL, message, details);
  return new ConversationError(ErrorCode.INTERNAL, message, details);
}
