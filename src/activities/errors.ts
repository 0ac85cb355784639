/**
 * Classification of model errors for Temporal's retry policy: 4xx other than 408/409/429 are final; 429 retries
 * after the server's hint; 5xx, timeouts and connection errors retry with backoff.
 */
import { ApplicationFailure } from '@temporalio/common';
import OpenAI from 'openai';
import { FailureType } from '../domain/failures';

/** Turns an error from the openai client into what Temporal should do with it. */
export function classifyModelError(err: unknown): unknown {
  if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
    const status = err.status;
    if (status === 429) {
      const retryAfter = Number(err.headers?.get?.('retry-after') ?? NaN);
      return ApplicationFailure.create({
        type: 'RateLimited',
        message: `model rate limited (429): ${err.message}`,
        ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { nextRetryDelay: retryAfter * 1000 } : {}),
      });
    }
    if (status >= 400 && status < 500 && status !== 408 && status !== 409) {
      return ApplicationFailure.create({
        type: FailureType.ModelRequestRejected,
        message: `model rejected the request (${status}): ${err.message}`,
        nonRetryable: true,
        details: [{ status }],
      });
    }
    return ApplicationFailure.create({ type: FailureType.ModelError, message: `model error (${status}): ${err.message}` });
  }
  return err;
}
