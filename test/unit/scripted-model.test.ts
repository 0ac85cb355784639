import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import {
  STRAY_TOOL_MESSAGE,
  UNANSWERED_TOOL_CALLS_MESSAGE,
  validateChatRequest,
  type OpenAIError,
} from '../../src/scripted-model/rules';
import { demoPolicy, inferAgent } from '../../src/scripted-model/policy';
import {
  SCRIPTED_MODEL_ID,
  ScriptError,
  startScriptedModel,
  type RecordedCall,
  type ScriptedModel,
} from '../../src/scripted-model/server';

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

const LOOKUP_A100 = JSON.stringify({
  order_id: 'A-100',
  item: 'Espresso grinder',
  total: 249,
  currency: 'USD',
  status: 'delivered',
  delivered_on: '2026-11-28',
});

function fn(name: string, parameters?: Record<string, unknown>): ChatCompletionTool {
  return { type: 'function', function: { name, description: `${name} tool`, parameters: parameters ?? { type: 'object', properties: {} } } };
}

const TOOLS = {
  triage: [fn('handoff_to_order'), fn('handoff_to_refund')],
  order: [fn('lookup_order', { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] })],
  refund: [
    fn('lookup_order', { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] }),
    fn('submit_refund', {
      type: 'object',
      properties: { order_id: { type: 'string' }, amount: { type: 'number' }, reason: { type: 'string' } },
      required: ['order_id', 'amount', 'reason'],
    }),
  ],
};

function assistantCall(id: string, name: string, args: Record<string, unknown> = {}): ChatCompletionMessageParam {
  return { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name, arguments: JSON.stringify(args) } }] };
}

function toolResult(id: string, content: string): ChatCompletionMessageParam {
  return { role: 'tool', tool_call_id: id, content };
}

/** Body of a valid request, with `messages` replaced. */
function body(messages: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'gpt-4o-mini', messages, ...extra };
}

// ---------------------------------------------------------------------------------------------------------------
// Server shared by the tests

let model: ScriptedModel;
let client: OpenAI;
const logs: string[] = [];

before(async () => {
  model = await startScriptedModel({ port: 0, log: (line) => logs.push(line) });
  client = new OpenAI({ apiKey: 'x', baseURL: model.url, maxRetries: 0 });
});

after(async () => {
  await model.close();
});

beforeEach(() => {
  model.reset();
  logs.length = 0;
});

function root(): string {
  return model.url.replace(/\/v1$/, '');
}

async function request(
  method: string,
  path: string,
  payload?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const init: RequestInit = { method, headers: { 'content-type': 'application/json', ...headers } };
  if (payload !== undefined) init.body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const res = await fetch(`${root()}${path}`, init);
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

function chat(payload: unknown, headers: Record<string, string> = {}): ReturnType<typeof request> {
  return request('POST', '/v1/chat/completions', payload, headers);
}

/** Non-streaming call through the real openai client, as the given agent. */
async function ask(agent: string | null, messages: ChatCompletionMessageParam[], tools: ChatCompletionTool[]) {
  const headers: Record<string, string> = agent === null ? {} : { 'x-agent-name': agent };
  const completion = await client.chat.completions.create(
    { model: 'gpt-4o-mini', messages, tools },
    { headers },
  );
  const choice = completion.choices[0];
  assert.ok(choice, 'one choice');
  return { completion, choice, message: choice.message };
}

function onlyToolCall(message: OpenAI.Chat.Completions.ChatCompletionMessage): { id: string; name: string; args: unknown } {
  assert.equal(message.tool_calls?.length, 1, `exactly one tool call in ${JSON.stringify(message)}`);
  const call = message.tool_calls?.[0];
  assert.ok(call && call.type === 'function');
  return { id: call.id, name: call.function.name, args: JSON.parse(call.function.arguments) as unknown };
}

// ---------------------------------------------------------------------------------------------------------------

describe('validateChatRequest (pure) and POST /v1/chat/completions agree on every rule', () => {
  /** Each case: what is wrong, the body, and the exact error OpenAI-style. */
  const cases: { name: string; body: unknown; message: string | RegExp; param: string | null; code?: string | null }[] = [
    { name: 'a missing model', body: { messages: [{ role: 'user', content: 'hi' }] }, message: "Missing required parameter: 'model'.", param: 'model', code: 'missing_required_parameter' },
    { name: 'an empty model string', body: { model: '', messages: [{ role: 'user', content: 'hi' }] }, message: /^Invalid 'model': string too short/, param: 'model', code: 'string_below_min_length' },
    { name: 'a model that is not a string', body: { model: 4, messages: [{ role: 'user', content: 'hi' }] }, message: "Invalid type for 'model': expected a string, but got an integer instead.", param: 'model', code: 'invalid_type' },
    { name: 'missing messages', body: { model: 'm' }, message: "Missing required parameter: 'messages'.", param: 'messages' },
    { name: 'messages that are not an array', body: { model: 'm', messages: 'hi' }, message: "Invalid type for 'messages': expected an array, but got a string instead.", param: 'messages' },
    { name: 'an empty messages array', body: body([]), message: "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", param: 'messages', code: 'empty_array' },
    { name: 'a message that is not an object', body: body(['hi']), message: "Invalid type for 'messages[0]': expected an object, but got a string instead.", param: 'messages.[0]' },
    { name: 'a message without a role', body: body([{ content: 'hi' }]), message: "Missing required parameter: 'messages[0].role'.", param: 'messages.[0].role' },
    { name: 'an unknown role', body: body([{ role: 'robot', content: 'beep' }]), message: "Invalid value: 'robot'. Supported values are: 'system', 'developer', 'user', 'assistant', and 'tool'.", param: 'messages.[0].role', code: 'invalid_value' },
    { name: 'a user message without content', body: body([{ role: 'user' }]), message: "Missing required parameter: 'messages[0].content'.", param: 'messages.[0].content' },
    { name: 'a user message with empty content', body: body([{ role: 'user', content: '' }]), message: "Invalid 'messages[0].content': string too short. Expected a string with minimum length 1, but got an empty string instead.", param: 'messages.[0].content' },
    { name: 'a system message whose content is a number', body: body([{ role: 'system', content: 42 }]), message: "Invalid type for 'messages[0].content': expected one of a string or array of objects, but got an integer instead.", param: 'messages.[0].content', code: 'invalid_type' },
    { name: 'a developer message with a non-text content part', body: body([{ role: 'developer', content: [{ type: 'image_url', image_url: { url: 'x' } }] }]), message: 'Invalid value: "image_url". Supported values are: \'text\'.', param: 'messages.[0].content.[0].type' },
    { name: 'a text part whose text is not a string', body: body([{ role: 'user', content: [{ type: 'text', text: 7 }] }]), message: "Invalid type for 'messages[0].content[0].text': expected a string, but got an integer instead.", param: 'messages.[0].content.[0].text' },
    {
      name: 'an assistant message (index 3) whose content is an object',
      body: body([{ role: 'system', content: 's' }, { role: 'user', content: 'u' }, { role: 'assistant', content: 'a' }, { role: 'assistant', content: { text: 'x' } }]),
      message: "Invalid type for 'messages[3].content': expected one of a string or array of objects, but got an object instead.",
      param: 'messages.[3].content',
    },
    { name: 'an assistant message with null content and no tool calls', body: body([{ role: 'user', content: 'u' }, { role: 'assistant', content: null }]), message: "Missing required parameter: 'messages[1].content'.", param: 'messages.[1].content' },
    { name: 'an assistant message with null content and an empty tool_calls array', body: body([{ role: 'user', content: 'u' }, { role: 'assistant', content: null, tool_calls: [] }]), message: "Missing required parameter: 'messages[1].content'.", param: 'messages.[1].content' },
    { name: 'tool_calls that are not an array', body: body([{ role: 'user', content: 'u' }, { role: 'assistant', content: null, tool_calls: {} }]), message: "Invalid type for 'messages[1].tool_calls': expected an array, but got an object instead.", param: 'messages.[1].tool_calls' },
    { name: 'a tool call without an id', body: body([{ role: 'user', content: 'u' }, { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }] }]), message: "Missing required parameter: 'messages[1].tool_calls[0].id'.", param: 'messages.[1].tool_calls.[0].id' },
    { name: 'a tool call whose type is not function', body: body([{ role: 'user', content: 'u' }, { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'custom', function: { name: 'f', arguments: '{}' } }] }]), message: 'Invalid value: "custom". Supported values are: \'function\'.', param: 'messages.[1].tool_calls.[0].type' },
    { name: 'tool call arguments given as an object', body: body([{ role: 'user', content: 'u' }, { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: {} } }] }]), message: "Invalid type for 'messages[1].tool_calls[0].function.arguments': expected a string, but got an object instead.", param: 'messages.[1].tool_calls.[0].function.arguments' },
    { name: 'tool call arguments that are not JSON', body: body([{ role: 'user', content: 'u' }, { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{oops' } }] }]), message: "Invalid 'messages[1].tool_calls[0].function.arguments': the function arguments must be a string of valid JSON.", param: 'messages.[1].tool_calls.[0].function.arguments' },
    { name: 'a tool call without a function name', body: body([{ role: 'user', content: 'u' }, { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { arguments: '{}' } }] }]), message: "Missing required parameter: 'messages[1].tool_calls[0].function.name'.", param: 'messages.[1].tool_calls.[0].function.name' },
    { name: 'a message name with a space', body: body([{ role: 'user', name: 'jane doe', content: 'hi' }]), message: /^Invalid 'messages\[0\]\.name': string does not match pattern/, param: 'messages.[0].name' },
    { name: 'a message name with a slash', body: body([{ role: 'user', name: 'a/b', content: 'hi' }]), message: /does not match pattern/, param: 'messages.[0].name' },
    {
      name: 'a tool call followed by a user message instead of its answer',
      body: body([{ role: 'user', content: 'u' }, assistantCall('call_a', 'f'), { role: 'user', content: 'again' }]),
      message: `${UNANSWERED_TOOL_CALLS_MESSAGE}call_a`,
      param: 'messages.[1].role',
      code: null,
    },
    {
      name: 'a conversation that ends with one of two tool calls unanswered',
      body: body([
        { role: 'user', content: 'u' },
        { role: 'assistant', content: null, tool_calls: [
          { id: 'call_a', type: 'function', function: { name: 'f', arguments: '{}' } },
          { id: 'call_b', type: 'function', function: { name: 'g', arguments: '{}' } },
        ] },
        toolResult('call_b', 'ok'),
      ]),
      message: `${UNANSWERED_TOOL_CALLS_MESSAGE}call_a`,
      param: 'messages.[1].role',
    },
    {
      name: 'two unanswered tool calls (ids listed comma-separated)',
      body: body([
        { role: 'user', content: 'u' },
        { role: 'assistant', content: 'calling', tool_calls: [
          { id: 'call_a', type: 'function', function: { name: 'f', arguments: '{}' } },
          { id: 'call_b', type: 'function', function: { name: 'g', arguments: '{}' } },
        ] },
        { role: 'assistant', content: 'done' },
      ]),
      message: `${UNANSWERED_TOOL_CALLS_MESSAGE}call_a, call_b`,
      param: 'messages.[1].role',
    },
    { name: 'a tool message with no preceding tool calls', body: body([{ role: 'user', content: 'u' }, toolResult('call_x', 'r')]), message: STRAY_TOOL_MESSAGE, param: 'messages.[1].role', code: null },
    { name: 'a tool message answering an id that was never called', body: body([{ role: 'user', content: 'u' }, assistantCall('call_a', 'f'), toolResult('call_a', 'r'), toolResult('call_zzz', 'r')]), message: STRAY_TOOL_MESSAGE, param: 'messages.[3].role' },
    { name: 'a tool message without a tool_call_id', body: body([{ role: 'user', content: 'u' }, assistantCall('call_a', 'f'), { role: 'tool', content: 'r' }]), message: STRAY_TOOL_MESSAGE, param: 'messages.[2].role' },
    {
      name: 'a tool message answering a call from an earlier block (not the immediately preceding one)',
      body: body([{ role: 'user', content: 'u' }, assistantCall('call_a', 'f'), toolResult('call_a', 'r'), { role: 'user', content: 'more' }, toolResult('call_a', 'r again')]),
      message: STRAY_TOOL_MESSAGE,
      param: 'messages.[4].role',
    },
    { name: 'two answers to the same tool call id', body: body([{ role: 'user', content: 'u' }, assistantCall('call_a', 'f'), toolResult('call_a', 'r'), toolResult('call_a', 'r2')]), message: /'call_a'.*already answered/, param: 'messages.[3].tool_call_id' },
    { name: 'tools that are not an array', body: body([{ role: 'user', content: 'u' }], { tools: { type: 'function' } }), message: "Invalid type for 'tools': expected an array, but got an object instead.", param: 'tools' },
    { name: 'an empty tools array', body: body([{ role: 'user', content: 'u' }], { tools: [] }), message: "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.", param: 'tools', code: 'empty_array' },
    { name: 'a tool whose type is not function', body: body([{ role: 'user', content: 'u' }], { tools: [{ type: 'web_search', function: { name: 'f' } }] }), message: 'Invalid value: "web_search". Supported values are: \'function\'.', param: 'tools.[0].type' },
    { name: 'a tool name with a space', body: body([{ role: 'user', content: 'u' }], { tools: [{ type: 'function', function: { name: 'look up' } }] }), message: "Invalid 'tools[0].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.", param: 'tools.[0].function.name' },
    { name: 'a tool name longer than 64 characters', body: body([{ role: 'user', content: 'u' }], { tools: [fn('f'), { type: 'function', function: { name: 'x'.repeat(65) } }] }), message: /does not match pattern/, param: 'tools.[1].function.name' },
    { name: 'duplicate tool names', body: body([{ role: 'user', content: 'u' }], { tools: [fn('lookup_order'), fn('lookup_order')] }), message: "Invalid 'tools': duplicate function name 'lookup_order'. Tool names must be unique.", param: 'tools' },
    { name: 'tool parameters that are an array', body: body([{ role: 'user', content: 'u' }], { tools: [{ type: 'function', function: { name: 'f', parameters: [] } }] }), message: "Invalid type for 'tools[0].function.parameters': expected an object, but got an array instead.", param: 'tools.[0].function.parameters' },
    { name: 'a tool description that is not a string', body: body([{ role: 'user', content: 'u' }], { tools: [{ type: 'function', function: { name: 'f', description: 1 } }] }), message: "Invalid type for 'tools[0].function.description': expected a string, but got an integer instead.", param: 'tools.[0].function.description' },
    { name: 'tool_choice without tools', body: body([{ role: 'user', content: 'u' }], { tool_choice: 'auto' }), message: "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", param: 'tool_choice' },
    { name: 'tool_choice naming a tool that is not offered', body: body([{ role: 'user', content: 'u' }], { tools: [fn('f')], tool_choice: { type: 'function', function: { name: 'g' } } }), message: "Invalid value for 'tool_choice': tool choice 'g' not found in 'tools' parameter.", param: 'tool_choice' },
    { name: 'a stream flag that is not a boolean', body: body([{ role: 'user', content: 'u' }], { stream: 'yes' }), message: "Invalid type for 'stream': expected a boolean, but got a string instead.", param: 'stream' },
  ];

  for (const c of cases) {
    it(`rejects ${c.name} with 400, the exact message and param ${String(c.param)}`, async () => {
      const pure = validateChatRequest(c.body);
      assert.ok(!pure.ok);
      assert.equal(pure.status, 400);
      assert.equal(pure.error.type, 'invalid_request_error');
      assert.equal(pure.error.param, c.param);
      if (typeof c.message === 'string') assert.equal(pure.error.message, c.message);
      else assert.match(pure.error.message, c.message);
      if (c.code !== undefined) assert.equal(pure.error.code, c.code);

      const res = await chat(c.body);
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('x-scripted-model'), 'test-double');
      assert.deepEqual(res.json, { error: pure.error });
    });
  }

  it('rejects a body that is not a JSON object', () => {
    for (const bad of [null, 'x', [1], 3]) {
      const result = validateChatRequest(bad);
      assert.ok(!result.ok);
      assert.equal(result.error.param, null);
      assert.match(result.error.message, /must be a JSON object/);
    }
  });

  it('answers a body that is not valid JSON with an OpenAI-style 400 and records it', async () => {
    const res = await chat('{"model": "m", "messages": [', { 'x-conversation-id': 'bad-json' });
    assert.equal(res.status, 400);
    const error = res.json.error as OpenAIError;
    assert.equal(error.type, 'invalid_request_error');
    assert.match(error.message, /could not parse the JSON body/);
    const [call] = model.calls('bad-json');
    assert.equal(call?.status, 400);
    assert.equal(call?.reply, null);
  });

  it('accepts a well-formed conversation with text parts, names, and tool calls answered in any order', () => {
    const result = validateChatRequest({
      model: 'm',
      stream: true,
      stream_options: { include_usage: true },
      tools: [fn('f'), fn('g')],
      tool_choice: 'auto',
      parallel_tool_calls: true,
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'be brief' }, { type: 'text', text: 'be kind' }] },
        { role: 'developer', content: 'dev' },
        { role: 'user', name: 'jane', content: 'hi' },
        { role: 'assistant', content: '', tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } },
          { id: 'c2', type: 'function', function: { name: 'g', arguments: '{"a":1}' } },
        ] },
        { role: 'tool', tool_call_id: 'c2', content: 'two' },
        { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: 'one' }] },
        { role: 'assistant', content: 'done' },
      ],
    });
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.value.stream, true);
    assert.equal(result.value.includeUsage, true);
    assert.equal(result.value.messages.length, 7);
    assert.deepEqual(result.value.messages[0], { role: 'system', content: 'be brief\nbe kind' });
    assert.deepEqual(result.value.messages[2], { role: 'user', content: 'hi', name: 'jane' });
    assert.deepEqual(result.value.tools.map((t) => t.function.name), ['f', 'g']);
  });

  it('throws OpenAI.BadRequestError in the openai client for a rule violation, with param and message', async () => {
    const err = await client.chat.completions
      .create({ model: 'm', messages: [{ role: 'user', content: 'u' }, assistantCall('call_q', 'f')] })
      .then(() => null, (e: unknown) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, `expected BadRequestError, got ${String(err)}`);
    assert.equal(err.status, 400);
    assert.equal(err.param, 'messages.[1].role');
    assert.equal(err.type, 'invalid_request_error');
    assert.match(err.message, /The following tool_call_ids did not have response messages: call_q$/);
  });
});

describe('demo policy: the customer-support story', () => {
  it('plays the whole refund story: triage hands off, refund looks up, asks, submits on "yes", confirms', async () => {
    const history: ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You are the support team.' },
      { role: 'user', content: 'Hi, my order a-100 arrived damaged. I want my money back.' },
    ];

    // 1. Triage hands off to refund (no arguments).
    const t = await ask('triage', history, TOOLS.triage);
    assert.equal(t.choice.finish_reason, 'tool_calls');
    assert.equal(t.message.content, null);
    const handoff = onlyToolCall(t.message);
    assert.equal(handoff.name, 'handoff_to_refund');
    assert.deepEqual(handoff.args, {});
    assert.match(handoff.id, /^call_\w+$/);
    history.push(assistantCall(handoff.id, 'handoff_to_refund'), toolResult(handoff.id, '{"assistant":"refund"}'));

    // 2. Refund looks the order up (order id upper-cased).
    const r1 = await ask('refund', history, TOOLS.refund);
    const lookup = onlyToolCall(r1.message);
    assert.equal(lookup.name, 'lookup_order');
    assert.deepEqual(lookup.args, { order_id: 'A-100' });
    history.push(assistantCall(lookup.id, 'lookup_order', { order_id: 'A-100' }), toolResult(lookup.id, LOOKUP_A100));

    // 3. Refund asks to confirm, quoting the lookup.
    const r2 = await ask('refund', history, TOOLS.refund);
    assert.equal(r2.choice.finish_reason, 'stop');
    assert.equal(
      r2.message.content,
      'Order A-100 (Espresso grinder, $249) was delivered on 2026-11-28. I can refund $249 because it arrived damaged. Shall I submit the refund? (yes/no)',
    );
    history.push({ role: 'assistant', content: r2.message.content }, { role: 'user', content: 'Yes please' });

    // 4. On "yes" it submits the refund.
    const r3 = await ask('refund', history, TOOLS.refund);
    const submit = onlyToolCall(r3.message);
    assert.equal(submit.name, 'submit_refund');
    assert.deepEqual(submit.args, { order_id: 'A-100', amount: 249, reason: 'arrived damaged' });
    history.push(
      assistantCall(submit.id, 'submit_refund', submit.args as Record<string, unknown>),
      toolResult(submit.id, JSON.stringify({ status: 'submitted', refund_id: 'R-7', order_id: 'A-100', amount: 249 })),
    );

    // 5. After the result it confirms.
    const r4 = await ask('refund', history, TOOLS.refund);
    assert.equal(r4.message.content, 'Done: refund R-7 of $249 for order A-100 is submitted. Anything else?');
    assert.equal(r4.message.tool_calls, undefined);

    // 6. A later "ok thanks" does not refund twice.
    history.push({ role: 'assistant', content: r4.message.content }, { role: 'user', content: 'ok thanks' });
    const r5 = await ask('refund', history, TOOLS.refund);
    assert.equal(r5.message.tool_calls, undefined);
    assert.match(r5.message.content ?? '', /^Refund R-7 for order A-100 is already submitted\./);
  });

  it('asks the refund customer for an order number when none was given', async () => {
    const { message } = await ask('refund', [{ role: 'user', content: 'I want a refund' }], TOOLS.refund);
    assert.equal(message.content, 'I can help with a refund. What is your order number (for example A-100)?');
  });

  it('infers the agent from the tools offered when the x-agent-name header is absent', async () => {
    const r = await ask(null, [{ role: 'user', content: 'refund for B-2001 please' }], TOOLS.refund);
    assert.deepEqual(onlyToolCall(r.message).args, { order_id: 'B-2001' });
    assert.equal(inferAgent(null, []), 'triage');
    assert.equal(inferAgent(null, validTools(TOOLS.order)), 'order');
    assert.equal(inferAgent(null, validTools(TOOLS.refund)), 'refund');
    assert.equal(inferAgent('billing', validTools(TOOLS.refund)), 'billing');
  });

  it('acknowledges a rejected refund without submitting again', async () => {
    const messages: ChatCompletionMessageParam[] = [
      { role: 'user', content: 'refund A-100, it is broken' },
      assistantCall('c1', 'lookup_order', { order_id: 'A-100' }),
      toolResult('c1', LOOKUP_A100),
      { role: 'assistant', content: 'Shall I?' },
      { role: 'user', content: 'yes' },
      assistantCall('c2', 'submit_refund', { order_id: 'A-100', amount: 249, reason: 'arrived damaged' }),
      toolResult('c2', 'Refund rejected by the customer.'),
    ];
    const { message } = await ask('refund', messages, TOOLS.refund);
    assert.equal(message.content, 'Understood, I did not submit the refund for order A-100. Anything else I can do?');
  });

  it('tells the refund customer when the lookup found no such order', () => {
    const reply = demoPolicy({
      agent: 'refund',
      tools: validTools(TOOLS.refund),
      messages: validMessages([
        { role: 'user', content: 'refund Z-999 please' },
        assistantCall('c1', 'lookup_order', { order_id: 'Z-999' }),
        toolResult('c1', '{"error":"order not found","order_id":"Z-999"}'),
        { role: 'user', content: 'yes' },
      ]),
    });
    assert.deepEqual(reply, { content: 'I could not find order Z-999. Could you check the number?' });
  });

  it('routes order questions from triage to the order agent, and greets otherwise', () => {
    const tools = validTools(TOOLS.triage);
    const route = (text: string) => demoPolicy({ agent: 'triage', tools, messages: validMessages([{ role: 'user', content: text }]) });
    assert.equal(route('Where is my package?').toolCalls?.[0]?.name, 'handoff_to_order');
    assert.equal(route('I need to return this').toolCalls?.[0]?.name, 'handoff_to_refund');
    assert.equal(
      route('hello').content,
      "Hi, I'm the triage agent. I can route you to our order or refund specialists. What can I help you with?",
    );
    // Without the handoff tool on offer, triage answers in text.
    const noTools = demoPolicy({ agent: 'triage', tools: [], messages: validMessages([{ role: 'user', content: 'refund!' }]) });
    assert.equal(noTools.toolCalls, undefined);
  });

  it('lets the order agent ask for a number, look it up, and report status and delivery date', () => {
    const tools = validTools(TOOLS.order);
    const ask1 = demoPolicy({ agent: 'order', tools, messages: validMessages([{ role: 'user', content: 'where is my order?' }]) });
    assert.equal(ask1.content, 'Which order should I look up? Please give the order number (for example A-100).');
    const m = [{ role: 'user', content: 'It is A-100' }] as ChatCompletionMessageParam[];
    const look = demoPolicy({ agent: 'order', tools, messages: validMessages(m) });
    assert.deepEqual(look.toolCalls, [{ name: 'lookup_order', arguments: { order_id: 'A-100' } }]);
    const done = demoPolicy({
      agent: 'order',
      tools,
      messages: validMessages([...m, assistantCall('c9', 'lookup_order', { order_id: 'A-100' }), toolResult('c9', LOOKUP_A100)]),
    });
    assert.equal(done.content, 'Order A-100 (Espresso grinder) is delivered. It was delivered on 2026-11-28.');
  });

  it('echoes the last user message for an agent it does not know', () => {
    const reply = demoPolicy({ agent: 'billing', tools: [], messages: validMessages([{ role: 'user', content: 'first' }, { role: 'assistant', content: 'a' }, { role: 'user', content: 'second' }]) });
    assert.deepEqual(reply, { content: '(scripted) billing received: second' });
  });
});

describe('openai client compatibility', () => {
  it('returns a standard chat.completion with model scripted-test-double, usage, and the x-scripted-model header', async () => {
    model.script('compat-1', [{ content: 'plain text answer' }]);
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-conversation-id': 'compat-1' } })
      .withResponse();
    assert.equal(response.headers.get('x-scripted-model'), 'test-double');
    assert.equal(data.object, 'chat.completion');
    assert.match(data.id, /^chatcmpl-/);
    assert.equal(typeof data.created, 'number');
    assert.equal(data.model, SCRIPTED_MODEL_ID);
    assert.equal(data.choices[0]?.finish_reason, 'stop');
    assert.deepEqual(
      { role: data.choices[0]?.message.role, content: data.choices[0]?.message.content },
      { role: 'assistant', content: 'plain text answer' },
    );
    assert.ok(data.usage && data.usage.total_tokens === data.usage.prompt_tokens + data.usage.completion_tokens);
  });

  it('returns scripted tool calls non-streaming with unique call_ ids unless the script gives one', async () => {
    model.script('compat-2', [
      { toolCalls: [{ name: 'lookup_order', arguments: { order_id: 'A-100' } }, { name: 'f', arguments: '{"raw":true}', id: 'call_given' }, { name: 'g' }] },
    ]);
    const res = await client.chat.completions.create(
      { model: 'm', messages: [{ role: 'user', content: 'go' }], tools: [fn('lookup_order'), fn('f'), fn('g')] },
      { headers: { 'x-conversation-id': 'compat-2' } },
    );
    const calls = res.choices[0]?.message.tool_calls ?? [];
    assert.equal(res.choices[0]?.finish_reason, 'tool_calls');
    assert.equal(calls.length, 3);
    const fns = calls.map((c) => (c.type === 'function' ? [c.id, c.function.name, c.function.arguments] : []));
    assert.match(String(fns[0]?.[0]), /^call_[0-9a-f]+$/);
    assert.deepEqual(fns.slice(1).map((f) => f.slice(1)), [['f', '{"raw":true}'], ['g', '{}']]);
    assert.equal(fns[1]?.[0], 'call_given');
    assert.notEqual(fns[0]?.[0], fns[2]?.[0]);
    // The record shows the ids that were sent.
    const recorded = model.calls('compat-2')[0]?.reply?.toolCalls?.map((c) => c.id);
    assert.deepEqual(recorded, fns.map((f) => f[0]));
  });

  it('streams content in several chunks and tool-call deltas that reassemble to the scripted calls', async () => {
    model.script('stream-1', [
      {
        content: 'Let me check two things for you.',
        toolCalls: [
          { name: 'lookup_order', arguments: { order_id: 'A-100', verbose: true } },
          { name: 'submit_refund', arguments: { order_id: 'A-100', amount: 249, reason: 'arrived damaged' }, id: 'call_fixed' },
        ],
      },
    ]);
    const stream = await client.chat.completions.create(
      { model: 'm', stream: true, messages: [{ role: 'user', content: 'go' }], tools: TOOLS.refund },
      { headers: { 'x-conversation-id': 'stream-1' } },
    );
    let content = '';
    let contentChunks = 0;
    const argumentChunks = new Map<number, number>();
    const assembled = new Map<number, { id: string; name: string; arguments: string }>();
    const finishReasons: (string | null)[] = [];
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.equal(chunk.model, SCRIPTED_MODEL_ID);
      const choice = chunk.choices[0];
      if (!choice) continue;
      finishReasons.push(choice.finish_reason);
      if (choice.delta.content) {
        content += choice.delta.content;
        contentChunks += 1;
      }
      for (const d of choice.delta.tool_calls ?? []) {
        const slot = assembled.get(d.index);
        if (slot === undefined) {
          assert.ok(d.id && d.type === 'function' && d.function?.name, 'first delta of a call carries id, type and name');
          assembled.set(d.index, { id: d.id, name: d.function.name, arguments: d.function.arguments ?? '' });
        } else {
          assert.equal(d.id, undefined, 'later deltas carry only arguments');
          slot.arguments += d.function?.arguments ?? '';
          argumentChunks.set(d.index, (argumentChunks.get(d.index) ?? 0) + 1);
        }
      }
    }
    assert.equal(content, 'Let me check two things for you.');
    assert.ok(contentChunks >= 2, `content split into ${contentChunks} chunks`);
    assert.ok((argumentChunks.get(0) ?? 0) >= 2, 'arguments split across chunks');
    assert.equal(finishReasons.filter((r) => r !== null).length, 1);
    assert.equal(finishReasons[finishReasons.length - 1], 'tool_calls');
    const calls = [...assembled.entries()].sort(([a], [b]) => a - b).map(([, c]) => c);
    assert.equal(calls.length, 2);
    assert.match(calls[0]?.id ?? '', /^call_/);
    assert.equal(calls[0]?.name, 'lookup_order');
    assert.deepEqual(JSON.parse(calls[0]?.arguments ?? ''), { order_id: 'A-100', verbose: true });
    assert.deepEqual(calls[1], {
      id: 'call_fixed',
      name: 'submit_refund',
      arguments: JSON.stringify({ order_id: 'A-100', amount: 249, reason: 'arrived damaged' }),
    });
  });

  it("is accumulated correctly by the openai client's stream helper, including a usage chunk when asked", async () => {
    const runner = client.chat.completions.stream(
      {
        model: 'm',
        messages: [{ role: 'user', content: 'refund A-100, it arrived damaged' }],
        tools: TOOLS.triage,
        stream_options: { include_usage: true },
      },
      { headers: { 'x-agent-name': 'triage', 'x-conversation-id': 'stream-2' } },
    );
    const final = await runner.finalChatCompletion();
    const message = final.choices[0]?.message;
    assert.ok(message);
    assert.equal(final.choices[0]?.finish_reason, 'tool_calls');
    const call = message.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.equal(call.function.name, 'handoff_to_refund');
    assert.equal(call.function.arguments, '{}');
    assert.ok(final.usage && final.usage.total_tokens > 0);
    const [recorded] = model.calls('stream-2');
    assert.equal(recorded?.stream, true);
    assert.equal(recorded?.agent, 'triage');
  });

  it('streams plain demo text that the client reassembles exactly', async () => {
    const stream = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hello' }] });
    const pieces: string[] = [];
    for await (const chunk of stream) pieces.push(chunk.choices[0]?.delta.content ?? '');
    assert.ok(pieces.filter((p) => p !== '').length >= 2);
    assert.equal(
      pieces.join(''),
      "Hi, I'm the triage agent. I can route you to our order or refund specialists. What can I help you with?",
    );
  });

  it('lists the one model on GET /v1/models', async () => {
    const page = await client.models.list();
    assert.deepEqual(page.data.map((m) => m.id), [SCRIPTED_MODEL_ID]);
  });
});

describe('scripts, errors, delays and the call record', () => {
  const msgs = [{ role: 'user', content: 'hi' }];

  it('consumes scripts FIFO per conversation id, and leaves unscripted conversations to the demo policy', async () => {
    model.script('conv-a', [{ content: 'a1' }, { content: 'a2' }]);
    model.script('conv-b', [{ content: 'b1' }]);
    model.script('conv-a', [{ content: 'a3' }]);
    const text = async (id: string): Promise<unknown> => {
      const res = await chat(body(msgs), { 'x-conversation-id': id });
      assert.equal(res.status, 200);
      return (res.json.choices as { message: { content: unknown } }[])[0]?.message.content;
    };
    assert.equal(await text('conv-a'), 'a1');
    assert.equal(await text('conv-b'), 'b1');
    assert.equal(await text('conv-a'), 'a2');
    assert.equal(await text('conv-a'), 'a3');
    assert.match(String(await text('conv-unscripted')), /^Hi, I'm the triage agent/);
  });

  it('fails loudly with 400 script_exhausted (and a log line) once a conversation script runs out, never falling back', async () => {
    model.script('conv-x', [{ content: 'only one' }]);
    assert.equal((await chat(body(msgs), { 'x-conversation-id': 'conv-x' })).status, 200);
    const res = await chat(body(msgs), { 'x-conversation-id': 'conv-x' });
    const expected = 'scripted model: the script for conversation conv-x ran out after 1 replies';
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, { error: { message: expected, type: 'invalid_request_error', param: null, code: 'script_exhausted' } });
    assert.ok(logs.includes(expected), `log has ${JSON.stringify(logs)}`);
    const last = model.calls('conv-x')[1];
    assert.deepEqual({ status: last?.status, reply: last?.reply, error: last?.error }, { status: 400, reply: null, error: { message: expected, code: 'script_exhausted' } });
  });

  it('treats an empty script as exhausted after 0 replies', async () => {
    model.script('conv-empty', []);
    const err = await client.chat.completions
      .create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-conversation-id': 'conv-empty' } })
      .then(() => null, (e: unknown) => e);
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.code, 'script_exhausted');
    assert.match(err.message, /ran out after 0 replies/);
  });

  it('answers a status: 500 reply with an OpenAI-style server_error, which the client raises as InternalServerError', async () => {
    model.script('conv-500', [{ status: 500 }, { status: 500 }]);
    const res = await chat(body(msgs), { 'x-conversation-id': 'conv-500' });
    assert.equal(res.status, 500);
    assert.equal(res.headers.get('x-scripted-model'), 'test-double');
    const error = res.json.error as OpenAIError;
    assert.equal(error.type, 'server_error');
    assert.equal(error.param, null);
    assert.equal(typeof error.message, 'string');
    const err = await client.chat.completions
      .create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-conversation-id': 'conv-500' } })
      .then(() => null, (e: unknown) => e);
    assert.ok(err instanceof OpenAI.InternalServerError);
    assert.equal(err.status, 500);
    const recorded = model.calls('conv-500');
    assert.deepEqual(recorded.map((c) => [c.status, c.reply]), [[500, null], [500, null]]);
  });

  it('answers status: 429 with a rate-limit error and retry-after: 1, and status: 400 with invalid_request_error', async () => {
    model.script('conv-429', [{ status: 429 }, { status: 400 }]);
    const limited = await chat(body(msgs), { 'x-conversation-id': 'conv-429' });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '1');
    assert.deepEqual(
      { type: (limited.json.error as OpenAIError).type, code: (limited.json.error as OpenAIError).code },
      { type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' },
    );
    const bad = await chat(body(msgs), { 'x-conversation-id': 'conv-429' });
    assert.equal(bad.status, 400);
    assert.equal((bad.json.error as OpenAIError).type, 'invalid_request_error');
  });

  it('waits delayMs before answering, non-streaming and before the first streamed byte', async () => {
    const delay = 250;
    model.script('conv-slow', [{ content: 'slow', delayMs: delay }, { content: 'slow stream', delayMs: delay }]);
    let start = performance.now();
    const res = await chat(body(msgs), { 'x-conversation-id': 'conv-slow' });
    assert.ok(performance.now() - start >= delay, `non-streaming took ${performance.now() - start} ms`);
    assert.equal(res.status, 200);

    start = performance.now();
    const streamed = await fetch(`${model.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-conversation-id': 'conv-slow' },
      body: JSON.stringify(body(msgs, { stream: true })),
    });
    const headersAfter = performance.now() - start;
    assert.ok(headersAfter >= delay, `first byte after ${headersAfter} ms`);
    assert.equal(streamed.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const text = await streamed.text();
    assert.ok(text.endsWith('data: [DONE]\n\n'));
  });

  it('records every request, including rejected ones, and serves the record filtered by conversation on /_calls', async () => {
    model.script('rec-1', [{ content: 'one' }]);
    await chat(body(msgs), { 'x-conversation-id': 'rec-1', 'x-agent-name': 'refund', 'x-attempt': '2' });
    await chat(body([{ role: 'robot', content: 'x' }]), { 'x-conversation-id': 'rec-1', 'x-attempt': 'soon' });
    await chat(body(msgs), { 'x-conversation-id': 'rec-2' });
    await chat(body(msgs));

    const all = model.calls();
    assert.deepEqual(all.map((c) => c.seq), [1, 2, 3, 4]);
    assert.deepEqual(all.map((c) => c.conversationId), ['rec-1', 'rec-1', 'rec-2', null]);

    const res = await request('GET', '/_calls?conversationId=rec-1');
    assert.equal(res.status, 200);
    const calls = res.json.calls as RecordedCall[];
    assert.deepEqual(calls, model.calls('rec-1'));
    assert.equal(calls.length, 2);
    const [ok, rejected] = calls;
    assert.deepEqual(
      { seq: ok?.seq, agent: ok?.agent, attempt: ok?.attempt, stream: ok?.stream, status: ok?.status, reply: ok?.reply, error: ok?.error },
      { seq: 1, agent: 'refund', attempt: 2, stream: false, status: 200, reply: { content: 'one' }, error: null },
    );
    assert.deepEqual(ok?.request, { model: 'gpt-4o-mini', messages: msgs, tools: [] });
    assert.ok(!Number.isNaN(Date.parse(ok?.at ?? '')));
    assert.equal(rejected?.status, 400);
    assert.equal(rejected?.attempt, null);
    assert.equal(rejected?.reply, null);
    assert.match(rejected?.error?.message ?? '', /Invalid value: 'robot'/);
    assert.equal(rejected?.error?.code, 'invalid_value');

    const everything = await request('GET', '/_calls');
    assert.equal((everything.json.calls as RecordedCall[]).length, 4);
  });

  it('returns copies from calls(), so callers cannot change the record', async () => {
    await chat(body(msgs), { 'x-conversation-id': 'copy-1' });
    const first = model.calls('copy-1');
    assert.ok(first[0]);
    first[0].status = 999;
    first.length = 0;
    assert.equal(model.calls('copy-1')[0]?.status, 200);
  });

  it('accepts scripts over POST /_script and clears everything on POST /_reset', async () => {
    const scripted = await request('POST', '/_script', { conversationId: 'http-1', replies: [{ content: 'from http' }] });
    assert.deepEqual(scripted.json, { ok: true, conversationId: 'http-1', queued: 1 });
    const answer = await chat(body(msgs), { 'x-conversation-id': 'http-1' });
    assert.equal((answer.json.choices as { message: { content: string } }[])[0]?.message.content, 'from http');

    const badScript = await request('POST', '/_script', { conversationId: 'http-1', replies: [{ status: 200 }] });
    assert.equal(badScript.status, 400);
    assert.equal((badScript.json.error as OpenAIError).code, 'invalid_script');

    model.script('http-2', [{ content: 'never used' }]);
    const reset = await request('POST', '/_reset');
    assert.deepEqual(reset.json, { ok: true });
    assert.deepEqual(model.calls(), []);
    const demo = await chat(body(msgs), { 'x-conversation-id': 'http-2' });
    assert.match(String((demo.json.choices as { message: { content: string } }[])[0]?.message.content), /triage agent/);
  });

  it('rejects malformed scripts in script() with a ScriptError', () => {
    assert.throws(() => model.script('', [{ content: 'x' }]), ScriptError);
    assert.throws(() => model.script('s', [{}]), /needs content, toolCalls or status/);
    assert.throws(() => model.script('s', [{ status: 302 }]), /HTTP error status/);
    assert.throws(() => model.script('s', [{ content: 'x', delayMs: -1 }]), /delayMs/);
    assert.throws(() => model.script('s', [{ toolCalls: [{ name: '' }] }]), /name must be a non-empty string/);
  });

  it('says what it is on GET / and answers unknown routes with an OpenAI-style 404', async () => {
    const home = await request('GET', '/');
    assert.equal(home.status, 200);
    assert.equal(home.headers.get('x-scripted-model'), 'test-double');
    assert.equal(home.json.kind, 'test-double');
    assert.match(String(home.json.note), /test double.*not a model/);

    const missing = await request('GET', '/v1/embeddings');
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('x-scripted-model'), 'test-double');
    assert.deepEqual(missing.json, {
      error: { message: 'Invalid URL (GET /v1/embeddings)', type: 'invalid_request_error', param: null, code: 'unknown_url' },
    });
    assert.equal((await request('DELETE', '/v1/chat/completions')).status, 404);
  });
});

describe('close()', () => {
  it('resolves even with a keep-alive client connected and a delayed request in flight', async () => {
    const own = await startScriptedModel({ port: 0, log: () => undefined });
    const agent = new http.Agent({ keepAlive: true });
    const get = (): Promise<number> =>
      new Promise((resolve, reject) => {
        http
          .get(`${own.url}/models`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject);
      });
    try {
      assert.equal(await get(), 200);
      const idle = Object.values(agent.freeSockets).flat().length;
      assert.equal(idle, 1, 'a keep-alive socket is idle and open');

      own.script('slow', [{ content: 'late', delayMs: 60_000 }]);
      const inFlight = fetch(`${own.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-conversation-id': 'slow' },
        body: JSON.stringify(body([{ role: 'user', content: 'hi' }])),
      }).then(
        () => 'answered',
        () => 'aborted',
      );
      while (own.calls('slow').length === 0) await new Promise((r) => setTimeout(r, 5));

      const start = performance.now();
      const outcome = await Promise.race([
        own.close().then(() => 'closed'),
        new Promise((r) => setTimeout(() => r('hung'), 3000).unref()),
      ]);
      assert.equal(outcome, 'closed');
      assert.ok(performance.now() - start < 3000);
      assert.equal(await inFlight, 'aborted');
      await own.close(); // idempotent
    } finally {
      agent.destroy();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Helpers for the pure policy tests (reuse the validator so inputs are what the server would pass).

function validMessages(messages: ChatCompletionMessageParam[]) {
  const result = validateChatRequest({ model: 'm', messages });
  assert.ok(result.ok, JSON.stringify(result));
  return result.value.messages;
}

function validTools(tools: ChatCompletionTool[]) {
  const result = validateChatRequest({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools });
  assert.ok(result.ok, JSON.stringify(result));
  return result.value.tools;
}
