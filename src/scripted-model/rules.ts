/**
 * Strict validation of a chat-completions request body, mirroring the 400 errors the OpenAI API returns for
 * malformed conversations (wrong types, bad roles, unanswered or stray tool calls, bad tool definitions).
 * Pure: no I/O, no clock, no randomness.
 */

/** The message roles the chat-completions API accepts. */
export const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;

/** One of {@link CHAT_ROLES}. */
export type ChatRole = (typeof CHAT_ROLES)[number];

/** Pattern an optional message `name` must match (OpenAI's own). */
export const MESSAGE_NAME_PATTERN = /^[^\s<|\\/>]+$/;

/** Pattern a tool (function) name must match (OpenAI's own). */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/** Exact message OpenAI returns when tool calls are left unanswered; the ids follow, comma-separated. */
export const UNANSWERED_TOOL_CALLS_MESSAGE =
  "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ";

/** Exact message (with OpenAI's spelling) for a `tool` message that answers no pending tool call. */
export const STRAY_TOOL_MESSAGE =
  "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.";

/** The `error` object of an OpenAI-style error response body. */
export interface OpenAIError {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/** A tool call inside a validated assistant message. */
export interface ValidToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** A validated message; `content` is normalised to a string (text parts joined with a newline). */
export type ValidMessage =
  | { role: 'system' | 'developer' | 'user'; content: string; name?: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ValidToolCall[]; name?: string }
  | { role: 'tool'; content: string; tool_call_id: string };

/** A validated tool definition. */
export interface ValidTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

/** The parts of a validated request the scripted model uses. */
export interface ValidChatRequest {
  model: string;
  messages: ValidMessage[];
  tools: ValidTool[];
  stream: boolean;
  /** Whether `stream_options.include_usage` asked for a final usage chunk. */
  includeUsage: boolean;
}

/** Result of {@link validateChatRequest}: the validated request, or the 400 error OpenAI would return. */
export type ChatRequestValidation =
  | { ok: true; value: ValidChatRequest }
  | { ok: false; status: 400; error: OpenAIError };

class Rejection extends Error {
  constructor(
    message: string,
    readonly param: string | null,
    readonly code: string | null,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a boolean';
  return typeof value;
}

/** `messages.[3].content` (OpenAI's `param`) and `messages[3].content` (its wording in messages). */
function paths(path: (string | number)[]): { param: string; display: string } {
  let param = '';
  let display = '';
  for (const part of path) {
    if (typeof part === 'number') {
      param += `.[${part}]`;
      display += `[${part}]`;
    } else {
      param += param === '' ? part : `.${part}`;
      display += display === '' ? part : `.${part}`;
    }
  }
  return { param, display };
}

function invalidType(path: (string | number)[], expected: string, got: unknown): Rejection {
  const p = paths(path);
  return new Rejection(
    `Invalid type for '${p.display}': expected ${expected}, but got ${typeName(got)} instead.`,
    p.param,
    'invalid_type',
  );
}

function missing(path: (string | number)[]): Rejection {
  const p = paths(path);
  return new Rejection(`Missing required parameter: '${p.display}'.`, p.param, 'missing_required_parameter');
}

function invalidValue(path: (string | number)[], message: string, code = 'invalid_value'): Rejection {
  return new Rejection(message, paths(path).param, code);
}

function emptyString(path: (string | number)[]): Rejection {
  const p = paths(path);
  return new Rejection(
    `Invalid '${p.display}': string too short. Expected a string with minimum length 1, but got an empty string instead.`,
    p.param,
    'string_below_min_length',
  );
}

function emptyArray(path: (string | number)[]): Rejection {
  const p = paths(path);
  return new Rejection(
    `Invalid '${p.display}': empty array. Expected an array with minimum length 1, but got an empty array instead.`,
    p.param,
    'empty_array',
  );
}

function quotedList(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  return quoted.length < 2 ? quoted.join('') : `${quoted.slice(0, -1).join(', ')}, and ${quoted[quoted.length - 1]}`;
}

/** A string, or a non-empty array of `{ type: 'text', text }` parts joined with newlines. */
function textContent(value: unknown, path: (string | number)[], allowEmpty: boolean): string {
  if (typeof value === 'string') {
    if (!allowEmpty && value === '') throw emptyString(path);
    return value;
  }
  if (!Array.isArray(value)) throw invalidType(path, 'one of a string or array of objects', value);
  if (value.length === 0) throw emptyArray(path);
  const texts: string[] = [];
  value.forEach((part, j) => {
    if (!isObject(part)) throw invalidType([...path, j], 'an object', part);
    if (part.type === undefined) throw missing([...path, j, 'type']);
    if (part.type !== 'text') {
      throw invalidValue(
        [...path, j, 'type'],
        `Invalid value: ${JSON.stringify(part.type)}. Supported values are: 'text'.`,
      );
    }
    if (part.text === undefined) throw missing([...path, j, 'text']);
    if (typeof part.text !== 'string') throw invalidType([...path, j, 'text'], 'a string', part.text);
    texts.push(part.text);
  });
  return texts.join('\n');
}

function optionalName(msg: Json, i: number): string | undefined {
  if (msg.name === undefined) return undefined;
  if (typeof msg.name !== 'string') throw invalidType(['messages', i, 'name'], 'a string', msg.name);
  if (!MESSAGE_NAME_PATTERN.test(msg.name)) {
    const p = paths(['messages', i, 'name']);
    throw new Rejection(
      `Invalid '${p.display}': string does not match pattern. Expected a string that matches the pattern '^[^\\s<|\\\\/>]+$'.`,
      p.param,
      'invalid_value',
    );
  }
  return msg.name;
}

function toolCalls(value: unknown, i: number): ValidToolCall[] {
  const base = ['messages', i, 'tool_calls'] as (string | number)[];
  if (!Array.isArray(value)) throw invalidType(base, 'an array', value);
  const seen = new Set<string>();
  return value.map((call, j): ValidToolCall => {
    const at = [...base, j];
    if (!isObject(call)) throw invalidType(at, 'an object', call);
    if (call.id === undefined) throw missing([...at, 'id']);
    if (typeof call.id !== 'string') throw invalidType([...at, 'id'], 'a string', call.id);
    if (call.id === '') throw emptyString([...at, 'id']);
    if (seen.has(call.id)) {
      throw invalidValue(
        [...at, 'id'],
        `Invalid parameter: duplicate tool call id '${call.id}' in ${paths(base).display}.`,
      );
    }
    seen.add(call.id);
    if (call.type === undefined) throw missing([...at, 'type']);
    if (call.type !== 'function') {
      throw invalidValue([...at, 'type'], `Invalid value: ${JSON.stringify(call.type)}. Supported values are: 'function'.`);
    }
    const fn = call.function;
    if (fn === undefined) throw missing([...at, 'function']);
    if (!isObject(fn)) throw invalidType([...at, 'function'], 'an object', fn);
    if (fn.name === undefined) throw missing([...at, 'function', 'name']);
    if (typeof fn.name !== 'string') throw invalidType([...at, 'function', 'name'], 'a string', fn.name);
    if (fn.name === '') throw emptyString([...at, 'function', 'name']);
    if (fn.arguments === undefined) throw missing([...at, 'function', 'arguments']);
    if (typeof fn.arguments !== 'string') {
      throw invalidType([...at, 'function', 'arguments'], 'a string', fn.arguments);
    }
    try {
      JSON.parse(fn.arguments);
    } catch {
      const p = paths([...at, 'function', 'arguments']);
      throw new Rejection(
        `Invalid '${p.display}': the function arguments must be a string of valid JSON.`,
        p.param,
        'invalid_value',
      );
    }
    return { id: call.id, type: 'function', function: { name: fn.name, arguments: fn.arguments } };
  });
}

function message(raw: unknown, i: number): ValidMessage {
  if (!isObject(raw)) throw invalidType(['messages', i], 'an object', raw);
  if (raw.role === undefined) throw missing(['messages', i, 'role']);
  if (typeof raw.role !== 'string') throw invalidType(['messages', i, 'role'], 'a string', raw.role);
  const role = raw.role;
  if (!(CHAT_ROLES as readonly string[]).includes(role)) {
    throw invalidValue(
      ['messages', i, 'role'],
      `Invalid value: '${role}'. Supported values are: ${quotedList(CHAT_ROLES)}.`,
    );
  }
  const name = optionalName(raw, i);
  const withName = <T extends object>(m: T): T => (name === undefined ? m : { ...m, name });
  switch (role as ChatRole) {
    case 'system':
    case 'developer':
    case 'user': {
      if (raw.content === undefined) throw missing(['messages', i, 'content']);
      const content = textContent(raw.content, ['messages', i, 'content'], false);
      return withName({ role: role as 'system' | 'developer' | 'user', content });
    }
    case 'assistant': {
      let content: string | null = null;
      if (raw.content !== undefined && raw.content !== null) {
        content = textContent(raw.content, ['messages', i, 'content'], true);
      }
      let calls: ValidToolCall[] | undefined;
      if (raw.tool_calls !== undefined && raw.tool_calls !== null) calls = toolCalls(raw.tool_calls, i);
      if (content === null && (calls === undefined || calls.length === 0)) {
        throw missing(['messages', i, 'content']);
      }
      const m: Extract<ValidMessage, { role: 'assistant' }> = { role: 'assistant', content };
      if (calls !== undefined && calls.length > 0) m.tool_calls = calls;
      return withName(m);
    }
    case 'tool': {
      if (raw.content === undefined) throw missing(['messages', i, 'content']);
      const content = textContent(raw.content, ['messages', i, 'content'], true);
      // A missing or non-string id cannot answer anything: OpenAI's "preceeding" rejection applies.
      if (typeof raw.tool_call_id !== 'string') throw new Rejection(STRAY_TOOL_MESSAGE, `messages.[${i}].role`, null);
      return { role: 'tool', content, tool_call_id: raw.tool_call_id };
    }
  }
}

/** Checks that every assistant `tool_calls` block is answered exactly once, immediately, by `tool` messages. */
function checkToolCallPairing(messages: ValidMessage[]): void {
  let pending: { index: number; ids: string[]; answered: Set<string> } | null = null;
  const unanswered = (): Rejection | null => {
    if (pending === null) return null;
    const left = pending.ids.filter((id) => !pending?.answered.has(id));
    if (left.length === 0) return null;
    return new Rejection(UNANSWERED_TOOL_CALLS_MESSAGE + left.join(', '), `messages.[${pending.index}].role`, null);
  };
  messages.forEach((m, i) => {
    if (m.role === 'tool') {
      if (pending === null || !pending.ids.includes(m.tool_call_id)) {
        throw new Rejection(STRAY_TOOL_MESSAGE, `messages.[${i}].role`, null);
      }
      if (pending.answered.has(m.tool_call_id)) {
        throw new Rejection(
          `Invalid parameter: the tool_call_id '${m.tool_call_id}' in messages[${i}] was already answered by an earlier tool message; each tool call must be answered exactly once.`,
          `messages.[${i}].tool_call_id`,
          null,
        );
      }
      pending.answered.add(m.tool_call_id);
      return;
    }
    const error = unanswered();
    if (error) throw error;
    pending =
      m.role === 'assistant' && m.tool_calls !== undefined
        ? { index: i, ids: m.tool_calls.map((c) => c.id), answered: new Set() }
        : null;
  });
  const error = unanswered();
  if (error) throw error;
}

function tools(value: unknown): ValidTool[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidType(['tools'], 'an array', value);
  if (value.length === 0) throw emptyArray(['tools']);
  const names = new Set<string>();
  return value.map((tool, k): ValidTool => {
    const at = ['tools', k] as (string | number)[];
    if (!isObject(tool)) throw invalidType(at, 'an object', tool);
    if (tool.type === undefined) throw missing([...at, 'type']);
    if (tool.type !== 'function') {
      throw invalidValue([...at, 'type'], `Invalid value: ${JSON.stringify(tool.type)}. Supported values are: 'function'.`);
    }
    const fn = tool.function;
    if (fn === undefined) throw missing([...at, 'function']);
    if (!isObject(fn)) throw invalidType([...at, 'function'], 'an object', fn);
    if (fn.name === undefined) throw missing([...at, 'function', 'name']);
    if (typeof fn.name !== 'string') throw invalidType([...at, 'function', 'name'], 'a string', fn.name);
    if (!TOOL_NAME_PATTERN.test(fn.name)) {
      const p = paths([...at, 'function', 'name']);
      throw new Rejection(
        `Invalid '${p.display}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.`,
        p.param,
        'invalid_value',
      );
    }
    if (names.has(fn.name)) {
      throw new Rejection(`Invalid 'tools': duplicate function name '${fn.name}'. Tool names must be unique.`, 'tools', 'invalid_value');
    }
    names.add(fn.name);
    const out: ValidTool = { type: 'function', function: { name: fn.name } };
    if (fn.description !== undefined) {
      if (typeof fn.description !== 'string') {
        throw invalidType([...at, 'function', 'description'], 'a string', fn.description);
      }
      out.function.description = fn.description;
    }
    if (fn.parameters !== undefined) {
      if (!isObject(fn.parameters)) throw invalidType([...at, 'function', 'parameters'], 'an object', fn.parameters);
      out.function.parameters = fn.parameters;
    }
    return out;
  });
}

/** `tool_choice` and `parallel_tool_calls` are only allowed with tools; a named choice must name an offered tool. */
function checkToolChoice(body: Json, offered: ValidTool[]): void {
  if (body.parallel_tool_calls !== undefined && body.parallel_tool_calls !== null) {
    if (typeof body.parallel_tool_calls !== 'boolean') {
      throw invalidType(['parallel_tool_calls'], 'a boolean', body.parallel_tool_calls);
    }
    if (offered.length === 0) {
      throw invalidValue(
        ['parallel_tool_calls'],
        "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.",
      );
    }
  }
  const choice = body.tool_choice;
  if (choice === undefined || choice === null) return;
  if (offered.length === 0) {
    throw invalidValue(
      ['tool_choice'],
      "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
    );
  }
  if (typeof choice === 'string') {
    if (!['none', 'auto', 'required'].includes(choice)) {
      throw invalidValue(['tool_choice'], `Invalid value: '${choice}'. Supported values are: 'none', 'auto', and 'required'.`);
    }
    return;
  }
  if (!isObject(choice)) throw invalidType(['tool_choice'], 'one of a string or object', choice);
  const fn = choice.function;
  if (choice.type !== 'function' || !isObject(fn) || typeof fn.name !== 'string') {
    throw invalidValue(
      ['tool_choice'],
      "Invalid 'tool_choice': expected 'none', 'auto', 'required' or { type: 'function', function: { name } }.",
    );
  }
  const wanted = fn.name;
  if (!offered.some((t) => t.function.name === wanted)) {
    throw invalidValue(
      ['tool_choice'],
      `Invalid value for 'tool_choice': tool choice '${wanted}' not found in 'tools' parameter.`,
    );
  }
}

function validate(body: unknown): ValidChatRequest {
  if (!isObject(body)) {
    throw new Rejection(`The request body must be a JSON object, but got ${typeName(body)}.`, null, 'invalid_type');
  }
  if (body.model === undefined) throw missing(['model']);
  if (typeof body.model !== 'string') throw invalidType(['model'], 'a string', body.model);
  if (body.model === '') throw emptyString(['model']);
  if (body.messages === undefined) throw missing(['messages']);
  if (!Array.isArray(body.messages)) throw invalidType(['messages'], 'an array', body.messages);
  if (body.messages.length === 0) throw emptyArray(['messages']);
  const messages = body.messages.map((m, i) => message(m, i));
  const offered = tools(body.tools);
  checkToolChoice(body, offered);
  checkToolCallPairing(messages);
  let stream = false;
  if (body.stream !== undefined && body.stream !== null) {
    if (typeof body.stream !== 'boolean') throw invalidType(['stream'], 'a boolean', body.stream);
    stream = body.stream;
  }
  let includeUsage = false;
  if (body.stream_options !== undefined && body.stream_options !== null) {
    if (!isObject(body.stream_options)) throw invalidType(['stream_options'], 'an object', body.stream_options);
    if (!stream) {
      throw invalidValue(
        ['stream_options'],
        'The stream_options parameter is only allowed when stream is enabled.',
      );
    }
    includeUsage = body.stream_options.include_usage === true;
  }
  return { model: body.model, messages, tools: offered, stream, includeUsage };
}

/**
 * Validates a chat-completions request body like the OpenAI API does, returning the normalised request or the
 * 400 error object (to be sent as `{ error }`).
 */
export function validateChatRequest(body: unknown): ChatRequestValidation {
  try {
    return { ok: true, value: validate(body) };
  } catch (e) {
    if (!(e instanceof Rejection)) throw e;
    return {
      ok: false,
      status: 400,
      error: { message: e.message, type: 'invalid_request_error', param: e.param, code: e.code },
    };
  }
}
