/**
 * A scripted OpenAI-compatible chat-completions server: a test double and offline demo, NOT a model.
 * Replies come from per-conversation scripts (tests) or from the deterministic demo policy (offline demo).
 * Built on `node:http` only; every response carries `x-scripted-model: test-double`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { demoPolicy, type ScriptedReply } from './policy';
import { validateChatRequest, type OpenAIError, type ValidChatRequest, type ValidToolCall } from './rules';

export type { ScriptedReply } from './policy';

/** The model id every response reports, whatever the request asked for. */
export const SCRIPTED_MODEL_ID = 'scripted-test-double';

/** The header (name and value) on every response, so nobody mistakes the double for a model. */
export const SCRIPTED_MODEL_HEADER = { name: 'x-scripted-model', value: 'test-double' } as const;

/** Request headers the scripted model reads. */
export const SCRIPTED_MODEL_REQUEST_HEADERS = {
  conversationId: 'x-conversation-id',
  agent: 'x-agent-name',
  attempt: 'x-attempt',
} as const;

/** Port {@link startScriptedModel} listens on when none is given. */
export const DEFAULT_SCRIPTED_MODEL_PORT = 4010;

/** The note `GET /` answers with. */
export const SCRIPTED_MODEL_NOTE =
  'This is a scripted test double of an OpenAI-compatible chat-completions endpoint, not a model: ' +
  'replies come from per-conversation scripts or from a fixed deterministic demo policy.';

const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** One chat-completions request as the scripted model saw and answered it. */
export interface RecordedCall {
  /** 1-based, over the whole server (restarts at 1 after `reset()`). */
  seq: number;
  /** From request header `x-conversation-id`. */
  conversationId: string | null;
  /** From request header `x-agent-name`. */
  agent: string | null;
  /** From request header `x-attempt`, when it is an integer. */
  attempt: number | null;
  stream: boolean;
  /** As sent (best effort for bodies that are not valid requests). */
  request: { model: string; messages: unknown[]; tools: unknown[] };
  /** HTTP status returned. */
  status: number;
  /** What was answered, with the tool call ids that were sent (null for errors). */
  reply: ScriptedReply | null;
  error: { message: string; code: string | null } | null;
  /** ISO time the reply was chosen (the call is recorded then, before any `delayMs`). */
  at: string;
}

/** Handle on a running scripted model. */
export interface ScriptedModel {
  /** Base URL including `/v1`, e.g. `http://127.0.0.1:4010/v1`. */
  readonly url: string;
  readonly port: number;
  /** Copies of the recorded calls, all or for one conversation. */
  calls(conversationId?: string): RecordedCall[];
  /** Appends replies to that conversation's FIFO queue; from now on it never falls back to the demo policy. */
  script(conversationId: string, replies: ScriptedReply[]): void;
  /** Clears scripts and the call record. */
  reset(): void;
  /** Stops listening and closes open (keep-alive) sockets, so it never hangs. */
  close(): Promise<void>;
}

/** Options of {@link startScriptedModel}. */
export interface ScriptedModelOptions {
  /** Default {@link DEFAULT_SCRIPTED_MODEL_PORT}; 0 picks a free port. */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Where loud failures (script exhausted, rejected requests) are written; default stderr. */
  log?: (line: string) => void;
}

/** Thrown by `script()` (and reported as 400 by `POST /_script`) for a malformed script. */
export class ScriptError extends TypeError {
  override readonly name = 'ScriptError';
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks a list of scripted replies, throwing {@link ScriptError} naming the first problem; returns deep copies. */
export function checkScriptedReplies(replies: unknown): ScriptedReply[] {
  if (!Array.isArray(replies)) throw new ScriptError('scripted model: replies must be an array');
  return replies.map((reply, i): ScriptedReply => {
    const at = `replies[${i}]`;
    if (!isObject(reply)) throw new ScriptError(`scripted model: ${at} must be an object`);
    for (const key of Object.keys(reply)) {
      if (!['content', 'toolCalls', 'delayMs', 'status'].includes(key)) {
        throw new ScriptError(`scripted model: ${at} has unknown field '${key}'`);
      }
    }
    const { content, toolCalls, delayMs, status } = reply;
    if (content !== undefined && content !== null && typeof content !== 'string') {
      throw new ScriptError(`scripted model: ${at}.content must be a string or null`);
    }
    if (delayMs !== undefined && (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0)) {
      throw new ScriptError(`scripted model: ${at}.delayMs must be a non-negative number`);
    }
    if (status !== undefined && (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599)) {
      throw new ScriptError(`scripted model: ${at}.status must be an HTTP error status (400-599)`);
    }
    if (toolCalls !== undefined) {
      if (!Array.isArray(toolCalls)) throw new ScriptError(`scripted model: ${at}.toolCalls must be an array`);
      toolCalls.forEach((c: unknown, j) => {
        const cat = `${at}.toolCalls[${j}]`;
        if (!isObject(c)) throw new ScriptError(`scripted model: ${cat} must be an object`);
        if (typeof c.name !== 'string' || c.name === '') throw new ScriptError(`scripted model: ${cat}.name must be a non-empty string`);
        if (c.arguments !== undefined && typeof c.arguments !== 'string' && !isObject(c.arguments)) {
          throw new ScriptError(`scripted model: ${cat}.arguments must be an object or a string`);
        }
        if (c.id !== undefined && (typeof c.id !== 'string' || c.id === '')) {
          throw new ScriptError(`scripted model: ${cat}.id must be a non-empty string`);
        }
      });
    }
    const hasCalls = Array.isArray(toolCalls) && toolCalls.length > 0;
    if (status === undefined && typeof content !== 'string' && !hasCalls) {
      throw new ScriptError(`scripted model: ${at} needs content, toolCalls or status`);
    }
    return structuredClone(reply) as ScriptedReply;
  });
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** Splits text into at most `parts` non-empty pieces, never inside a surrogate pair. */
function split(text: string, parts: number): string[] {
  const chars = Array.from(text);
  if (chars.length === 0) return [];
  const size = Math.ceil(chars.length / parts);
  const pieces: string[] = [];
  for (let i = 0; i < chars.length; i += size) pieces.push(chars.slice(i, i + size).join(''));
  return pieces;
}

function errorFor(status: number, message: string, code: string | null, param: string | null = null): OpenAIError {
  const type = status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return { message, type, param, code };
}

/** The answer to one request, decided before any delay. */
type Outcome =
  | { kind: 'error'; status: number; error: OpenAIError }
  | { kind: 'reply'; content: string | null; toolCalls: ValidToolCall[]; recorded: ScriptedReply };

/** Starts the scripted model (a test double, not a model) and resolves once it listens. */
export async function startScriptedModel(options: ScriptedModelOptions = {}): Promise<ScriptedModel> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const scripts = new Map<string, { queue: ScriptedReply[]; used: number }>();
  let record: RecordedCall[] = [];
  let seq = 0;
  let closed = false;
  const sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const sleeper = {
        timer: setTimeout(() => {
          sleepers.delete(sleeper);
          resolve();
        }, ms),
        wake: resolve,
      };
      sleepers.add(sleeper);
    });

  const script = (conversationId: string, replies: ScriptedReply[]): void => {
    if (typeof conversationId !== 'string' || conversationId === '') {
      throw new ScriptError('scripted model: conversationId must be a non-empty string');
    }
    const checked = checkScriptedReplies(replies);
    const entry = scripts.get(conversationId) ?? { queue: [], used: 0 };
    entry.queue.push(...checked);
    scripts.set(conversationId, entry);
  };

  const calls = (conversationId?: string): RecordedCall[] =>
    structuredClone(conversationId === undefined ? record : record.filter((c) => c.conversationId === conversationId));

  const reset = (): void => {
    scripts.clear();
    record = [];
    seq = 0;
  };

  function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
      ...headers,
    });
    res.end(text);
  }

  function sendError(res: http.ServerResponse, status: number, error: OpenAIError): void {
    send(res, status, { error }, status === 429 ? { 'retry-after': '1' } : {});
  }

  function readBody(req: http.IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_BYTES) chunks.push(chunk); // beyond the limit: drain, so a 413 can still be sent
      });
      req.on('end', () => {
        if (size > MAX_BODY_BYTES) reject(new RangeError(`body larger than ${MAX_BODY_BYTES} bytes`));
        else resolve(Buffer.concat(chunks).toString('utf8'));
      });
      req.on('error', reject);
    });
  }

  /** Reads a JSON body, or says which error (400 bad JSON, 413 too large) to answer with. */
  async function readJson(req: http.IncomingMessage): Promise<{ value: unknown } | { failed: OpenAIError; status: number }> {
    let text: string;
    try {
      text = await readBody(req);
    } catch (e) {
      const status = e instanceof RangeError ? 413 : 400;
      return { status, failed: errorFor(status, `scripted model: could not read the request body (${String(e)})`, null) };
    }
    try {
      return { value: JSON.parse(text) as unknown };
    } catch {
      return {
        status: 400,
        failed: errorFor(400, 'We could not parse the JSON body of your request. The scripted model (like the OpenAI API) expects a JSON payload.', null),
      };
    }
  }

  function header(req: http.IncomingMessage, name: string): string | null {
    const value = req.headers[name];
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined || first.trim() === '' ? null : first.trim();
  }

  function materialise(reply: ScriptedReply): Outcome {
    const toolCalls: ValidToolCall[] = (reply.toolCalls ?? []).map((c) => ({
      id: c.id ?? `call_${hex(12)}`,
      type: 'function',
      function: {
        name: c.name,
        arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments ?? {}),
      },
    }));
    let content = reply.content ?? null;
    if (content === null && toolCalls.length === 0) content = '';
    const recorded: ScriptedReply = structuredClone(reply);
    if (reply.toolCalls) {
      recorded.toolCalls = reply.toolCalls.map((c, i) => ({ ...structuredClone(c), id: toolCalls[i]?.id ?? '' }));
    }
    return { kind: 'reply', content, toolCalls, recorded };
  }

  function decide(conversationId: string | null, agent: string | null, request: ValidChatRequest): { outcome: Outcome; delayMs: number } {
    let reply: ScriptedReply;
    const entry = conversationId === null ? undefined : scripts.get(conversationId);
    if (entry !== undefined) {
      const next = entry.queue.shift();
      if (next === undefined) {
        const message = `scripted model: the script for conversation ${String(conversationId)} ran out after ${entry.used} replies`;
        log(message);
        return { outcome: { kind: 'error', status: 400, error: errorFor(400, message, 'script_exhausted') }, delayMs: 0 };
      }
      entry.used += 1;
      reply = next;
    } else {
      reply = demoPolicy({ messages: request.messages, tools: request.tools, agent });
    }
    const delayMs = reply.delayMs ?? 0;
    if (reply.status !== undefined) {
      const status = reply.status;
      const message = `scripted model: scripted error reply with HTTP status ${status} (test double)`;
      const code = status === 429 ? 'rate_limit_exceeded' : 'scripted_error';
      return { outcome: { kind: 'error', status, error: errorFor(status, message, code) }, delayMs };
    }
    return { outcome: materialise(reply), delayMs };
  }

  function usage(request: ValidChatRequest, content: string | null, toolCalls: ValidToolCall[]): Json {
    const prompt = Math.ceil(JSON.stringify(request.messages).length / 4) + Math.ceil(JSON.stringify(request.tools).length / 4);
    const output = (content ?? '') + (toolCalls.length > 0 ? JSON.stringify(toolCalls) : '');
    const completion = Math.max(1, Math.ceil(output.length / 4));
    return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  }

  function answer(res: http.ServerResponse, request: ValidChatRequest, content: string | null, toolCalls: ValidToolCall[]): void {
    if (res.headersSent || res.destroyed) return;
    const id = `chatcmpl-${hex(12)}`;
    const created = Math.floor(Date.now() / 1000);
    const finish = toolCalls.length > 0 ? 'tool_calls' : 'stop';
    if (!request.stream) {
      const message: Json = { role: 'assistant', content, refusal: null };
      if (toolCalls.length > 0) message.tool_calls = toolCalls;
      send(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model: SCRIPTED_MODEL_ID,
        system_fingerprint: SCRIPTED_MODEL_ID,
        choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
        usage: usage(request, content, toolCalls),
      });
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
    });
    const chunk = (delta: Json, finishReason: string | null = null): void => {
      const body = {
        id,
        object: 'chat.completion.chunk',
        created,
        model: SCRIPTED_MODEL_ID,
        system_fingerprint: SCRIPTED_MODEL_ID,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      };
      res.write(`data: ${JSON.stringify(body)}\n\n`);
    };
    chunk({ role: 'assistant', content: content === null ? null : '', refusal: null });
    for (const piece of split(content ?? '', 3)) chunk({ content: piece });
    toolCalls.forEach((call, index) => {
      chunk({
        tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }],
      });
      for (const piece of split(call.function.arguments, 3)) {
        chunk({ tool_calls: [{ index, function: { arguments: piece } }] });
      }
    });
    chunk({}, finish);
    if (request.includeUsage) {
      const body = {
        id,
        object: 'chat.completion.chunk',
        created,
        model: SCRIPTED_MODEL_ID,
        system_fingerprint: SCRIPTED_MODEL_ID,
        choices: [],
        usage: usage(request, content, toolCalls),
      };
      res.write(`data: ${JSON.stringify(body)}\n\n`);
    }
    res.end('data: [DONE]\n\n');
  }

  async function chatCompletions(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const conversationId = header(req, SCRIPTED_MODEL_REQUEST_HEADERS.conversationId);
    const agent = header(req, SCRIPTED_MODEL_REQUEST_HEADERS.agent);
    const attemptText = header(req, SCRIPTED_MODEL_REQUEST_HEADERS.attempt);
    const attempt = attemptText !== null && /^-?\d+$/.test(attemptText) ? Number(attemptText) : null;
    const body = await readJson(req);
    const raw = 'value' in body && isObject(body.value) ? body.value : {};
    const base = {
      conversationId,
      agent,
      attempt,
      stream: raw.stream === true,
      request: {
        model: typeof raw.model === 'string' ? raw.model : '',
        messages: Array.isArray(raw.messages) ? (raw.messages as unknown[]) : [],
        tools: Array.isArray(raw.tools) ? (raw.tools as unknown[]) : [],
      },
    };
    const push = (status: number, reply: ScriptedReply | null, error: OpenAIError | null): void => {
      seq += 1;
      record.push({
        seq,
        ...base,
        status,
        reply,
        error: error === null ? null : { message: error.message, code: error.code },
        at: new Date().toISOString(),
      });
    };
    const who = `conversation ${conversationId ?? '-'}, agent ${agent ?? '-'}`;

    if ('failed' in body) {
      push(body.status, null, body.failed);
      log(`scripted model: ${body.status} rejected request (${who}): ${body.failed.message}`);
      sendError(res, body.status, body.failed);
      return;
    }
    const checked = validateChatRequest(body.value);
    if (!checked.ok) {
      push(400, null, checked.error);
      log(`scripted model: 400 rejected request (${who}): ${checked.error.message} [param ${String(checked.error.param)}]`);
      sendError(res, 400, checked.error);
      return;
    }
    const { outcome, delayMs } = decide(conversationId, agent, checked.value);
    if (outcome.kind === 'error') push(outcome.status, null, outcome.error);
    else push(200, outcome.recorded, null);
    if (delayMs > 0) await sleep(delayMs);
    if (closed || res.destroyed) return;
    if (outcome.kind === 'error') sendError(res, outcome.status, outcome.error);
    else answer(res, checked.value, outcome.content, outcome.toolCalls);
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    res.setHeader(SCRIPTED_MODEL_HEADER.name, SCRIPTED_MODEL_HEADER.value);
    res.setHeader('x-request-id', `req_${hex(8)}`);
    const url = new URL(req.url ?? '/', 'http://scripted-model.invalid');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    const method = req.method ?? 'GET';
    switch (`${method} ${path}`) {
      case 'POST /v1/chat/completions':
        return chatCompletions(req, res);
      case 'GET /v1/models':
        return send(res, 200, {
          object: 'list',
          data: [{ id: SCRIPTED_MODEL_ID, object: 'model', created: 0, owned_by: 'scripted-test-double' }],
        });
      case 'GET /':
        return send(res, 200, {
          name: 'scripted-model',
          kind: 'test-double',
          model: SCRIPTED_MODEL_ID,
          note: SCRIPTED_MODEL_NOTE,
          endpoints: [
            'POST /v1/chat/completions',
            'GET /v1/models',
            'GET /_calls?conversationId=…',
            'POST /_script',
            'POST /_reset',
          ],
        });
      case 'GET /_calls': {
        const conversationId = url.searchParams.get('conversationId');
        return send(res, 200, { calls: calls(conversationId ?? undefined) });
      }
      case 'POST /_script': {
        const body = await readJson(req);
        if ('failed' in body) return sendError(res, body.status, body.failed);
        const value = body.value;
        try {
          if (!isObject(value)) throw new ScriptError('scripted model: body must be { conversationId, replies }');
          script(value.conversationId as string, value.replies as ScriptedReply[]);
        } catch (e) {
          if (!(e instanceof ScriptError)) throw e;
          return sendError(res, 400, errorFor(400, e.message, 'invalid_script'));
        }
        const conversationId = value.conversationId as string;
        return send(res, 200, { ok: true, conversationId, queued: scripts.get(conversationId)?.queue.length ?? 0 });
      }
      case 'POST /_reset':
        // Drain any body so keep-alive connections stay usable.
        await readBody(req).catch(() => '');
        reset();
        return send(res, 200, { ok: true });
      default:
        req.resume();
        return sendError(res, 404, errorFor(404, `Invalid URL (${method} ${url.pathname})`, 'unknown_url'));
    }
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      log(`scripted model: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      sendError(res, 500, errorFor(500, `scripted model: internal error: ${String(e)}`, 'internal_error'));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_SCRIPTED_MODEL_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      closed = true;
      for (const s of sleepers) {
        clearTimeout(s.timer);
        s.wake();
      }
      sleepers.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };

  return {
    url: `http://${urlHost}:${port}/v1`,
    port,
    calls,
    script,
    reset,
    close,
  };
}
