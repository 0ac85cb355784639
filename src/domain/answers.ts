/**
 * Validation of responses to pending requests, shared by the workflow's Update validator and the client
 * adapter (so bad input is rejected before anything is written). All responses of one call are validated before
 * any is applied.
 */
import { RequestType, type RequestInfoEvent } from './events';
import { FailureType } from './failures';

/** A normalised answer. */
export type Answer =
  | { kind: 'messages'; messages: string[] }
  /** An empty list: the user ends the conversation. */
  | { kind: 'end' }
  | { kind: 'approval'; approved: boolean; reason?: string };

/** Why a set of responses was rejected; `failure` maps to an HTTP status and code. */
export interface AnswerRejection {
  failure: FailureType;
  message: string;
  requestId?: string;
}

/** One validated response ready to apply. */
export interface AcceptedAnswer {
  requestId: string;
  answer: Answer;
  digest: string;
}

/** The outcome of validating a whole `responses` object. */
export type ResponsesCheck =
  | { ok: true; accepted: AcceptedAnswer[]; duplicates: string[] }
  | { ok: false; rejection: AnswerRejection };

/** Largest accepted text of one user message, in characters. */
export const MAX_ANSWER_CHARS = 100_000;

/**
 * Largest total text of a conversation's transcript, in characters. The whole transcript travels in one query
 * result (the model's messages) and in the continue-as-new payload, both capped at 2 MB by Temporal; past this
 * budget the conversation refuses more user text (fork it from a checkpoint to continue with less).
 */
export const MAX_TRANSCRIPT_CHARS = 600_000;

/** Characters of user text an answer adds. */
export function answerChars(answer: Answer): number {
  return answer.kind === 'messages' ? answer.messages.reduce((n, m) => n + m.length, 0) : 0;
}

const field = (id: string) => `responses[${JSON.stringify(id)}]`;

function normalizeUserAnswer(id: string, value: unknown): Answer | AnswerRejection {
  const expected = 'expected a non-empty string or a list of user messages (an empty list ends the conversation)';
  const textOf = (v: unknown): string | null => {
    if (typeof v === 'string') return v;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (o.role !== undefined && o.role !== 'user') return null;
      const t = o.content ?? o.text;
      return typeof t === 'string' ? t : null;
    }
    return null;
  };
  if (typeof value === 'string') {
    if (value.trim() === '') return { failure: FailureType.InvalidInput, message: `${field(id)}: must not be empty; ${expected}`, requestId: id };
    if (value.length > MAX_ANSWER_CHARS) return { failure: FailureType.InvalidInput, message: `${field(id)}: longer than ${MAX_ANSWER_CHARS} characters`, requestId: id };
    return { kind: 'messages', messages: [value] };
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return { kind: 'end' };
    const messages: string[] = [];
    for (const [i, item] of value.entries()) {
      const text = textOf(item);
      if (text === null) return { failure: FailureType.ResponseTypeMismatch, message: `${field(id)}[${i}]: ${expected}`, requestId: id };
      if (text.trim() === '') return { failure: FailureType.InvalidInput, message: `${field(id)}[${i}]: must not be empty`, requestId: id };
      if (text.length > MAX_ANSWER_CHARS) return { failure: FailureType.InvalidInput, message: `${field(id)}[${i}]: longer than ${MAX_ANSWER_CHARS} characters`, requestId: id };
      messages.push(text);
    }
    return { kind: 'messages', messages };
  }
  return { failure: FailureType.ResponseTypeMismatch, message: `${field(id)}: ${expected}; got ${describe(value)}`, requestId: id };
}

function normalizeApproval(id: string, value: unknown): Answer | AnswerRejection {
  const expected = 'expected { "approved": true | false, "reason"?: string }';
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return { failure: FailureType.ResponseTypeMismatch, message: `${field(id)}: ${expected}; got ${describe(value)}`, requestId: id };
  }
  const o = value as Record<string, unknown>;
  if (typeof o.approved !== 'boolean') {
    return { failure: FailureType.ResponseTypeMismatch, message: `${field(id)}.approved: ${expected}`, requestId: id };
  }
  const extra = Object.keys(o).filter((k) => k !== 'approved' && k !== 'reason');
  if (extra.length > 0) {
    return { failure: FailureType.InvalidInput, message: `${field(id)}: unknown field "${extra[0]}"; ${expected}`, requestId: id };
  }
  if (o.reason !== undefined && typeof o.reason !== 'string') {
    return { failure: FailureType.InvalidInput, message: `${field(id)}.reason: must be a string`, requestId: id };
  }
  return { kind: 'approval', approved: o.approved, ...(typeof o.reason === 'string' ? { reason: o.reason } : {}) };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Normalises one response against the request it answers. */
export function normalizeAnswer(request: RequestInfoEvent, value: unknown): Answer | AnswerRejection {
  return request.requestType === RequestType.FunctionApprovalRequest
    ? normalizeApproval(request.requestId, value)
    : normalizeUserAnswer(request.requestId, value);
}

function isRejection(x: Answer | AnswerRejection): x is AnswerRejection {
  return 'failure' in x;
}

/** A stable digest of an answer, to tell a repeated answer from a different one. FNV-1a, 2×32 bits. */
export function answerDigest(answer: Answer): string {
  const s = JSON.stringify(answer);
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

/**
 * Validates a whole `responses` object against the pending requests and the answers already given.
 * The same answer to an answered request is a harmless duplicate; a different one is rejected.
 */
export function checkResponses(
  responses: unknown,
  pending: readonly RequestInfoEvent[],
  answered: Readonly<Record<string, { digest: string }>>,
): ResponsesCheck {
  if (!responses || typeof responses !== 'object' || Array.isArray(responses)) {
    return { ok: false, rejection: { failure: FailureType.InvalidInput, message: 'responses: expected an object mapping request ids to answers' } };
  }
  const entries = Object.entries(responses as Record<string, unknown>);
  if (entries.length === 0) {
    return { ok: false, rejection: { failure: FailureType.InvalidInput, message: 'responses: must answer at least one request' } };
  }
  const accepted: AcceptedAnswer[] = [];
  const duplicates: string[] = [];
  for (const [id, value] of entries) {
    const request = pending.find((p) => p.requestId === id);
    // Own keys only: ids such as "__proto__" or "constructor" must not find Object.prototype members.
    const previous = Object.prototype.hasOwnProperty.call(answered, id) ? answered[id] : undefined;
    if (!request && previous) {
      const normalized = normalizeLoosely(value);
      if (normalized && answerDigest(normalized) === previous.digest) {
        duplicates.push(id);
        continue;
      }
      return { ok: false, rejection: { failure: FailureType.RequestAlreadyAnswered, message: `${field(id)}: this request was already answered with a different answer`, requestId: id } };
    }
    if (!request) {
      if (pending.length === 0) {
        return { ok: false, rejection: { failure: FailureType.NoPendingRequests, message: `${field(id)}: the conversation has no pending requests`, requestId: id } };
      }
      return {
        ok: false,
        rejection: {
          failure: FailureType.UnknownRequest,
          message: `${field(id)}: no pending request has this id; pending: ${pending.map((p) => p.requestId).join(', ')}`,
          requestId: id,
        },
      };
    }
    const answer = normalizeAnswer(request, value);
    if (isRejection(answer)) return { ok: false, rejection: answer };
    accepted.push({ requestId: id, answer, digest: answerDigest(answer) });
  }
  return { ok: true, accepted, duplicates };
}

/** Normalises an answer without knowing its request type (for comparing repeats of answered requests). */
function normalizeLoosely(value: unknown): Answer | null {
  if (value && typeof value === 'object' && !Array.isArray(value) && 'approved' in value) {
    const a = normalizeApproval('', value);
    return isRejection(a) ? null : a;
  }
  const a = normalizeUserAnswer('', value);
  return isRejection(a) ? null : a;
}
