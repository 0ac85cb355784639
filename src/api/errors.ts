/**
 * The HTTP layer's one error type and its one handler. Every error body is
 * `{ "error": { "code", "message", "details"? } }`; route handlers throw, they never build error bodies.
 */
import type { ErrorRequestHandler } from 'express';
import { ConversationError, ErrorCode, fromTemporalError } from '../checkpoints/errors';

/** HTTP status per error code. */
export const STATUS_OF: Record<ErrorCode, number> = {
  INVALID_BODY: 400,
  CONVERSATION_NOT_FOUND: 404,
  CHECKPOINT_NOT_FOUND: 404,
  REQUEST_ALREADY_ANSWERED: 409,
  CONVERSATION_EXISTS: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNKNOWN_REQUEST: 422,
  NO_PENDING_REQUESTS: 422,
  RESPONSE_TYPE_MISMATCH: 422,
  GRAPH_MISMATCH: 422,
  NOT_SUPPORTED: 501,
  TEMPORAL_UNAVAILABLE: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
};

/** An HTTP error with a stable code; renders itself. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  /** The JSON body. */
  toBody(): { error: { code: ErrorCode; message: string; details?: Record<string, unknown> } } {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }

  /** A 400 INVALID_BODY naming the field. */
  static invalid(field: string, problem: string): ApiError {
    return new ApiError(400, ErrorCode.INVALID_BODY, `${field}: ${problem}`);
  }
}

/** Turns anything thrown into an {@link ApiError}. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { type?: string; status?: number; message?: string };
  if (e?.type === 'entity.too.large') {
    return new ApiError(413, ErrorCode.PAYLOAD_TOO_LARGE, 'body: larger than the allowed request size');
  }
  if (e?.type === 'entity.parse.failed') {
    return new ApiError(400, ErrorCode.INVALID_BODY, `body: not valid JSON (${e.message ?? 'parse error'})`);
  }
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
    return new ApiError(400, ErrorCode.INVALID_BODY, `body: ${e.message}`);
  }
  // Other errors Express and body-parser raise for bad requests (bad percent-encoding, bad compression, ...).
  const status = (err as { status?: unknown; statusCode?: unknown })?.status ?? (err as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500 && !(err instanceof ConversationError)) {
    return new ApiError(400, ErrorCode.INVALID_BODY, `request: ${e?.message ?? 'malformed request'}`);
  }
  const c = err instanceof ConversationError ? err : fromTemporalError(err);
  return new ApiError(STATUS_OF[c.code], c.code, c.message, c.details);
}

/** The one error middleware, registered last. */
export function errorHandler(log: (fields: Record<string, unknown>) => void): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    const apiError = toApiError(err);
    if (apiError.status >= 500) log({ level: 'error', msg: 'request failed', code: apiError.code, error: (err as Error)?.stack ?? String(err) });
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(apiError.status).json(apiError.toBody());
  };
}
