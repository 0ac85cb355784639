import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { respond } from '../../src/workflows/handoff-conversation.definitions';
import { createStack, historyLength, http, newConversationId, startHttp, type TestStack } from '../support/harness';

describe('bad input and repeated answers over HTTP', () => {
  let stack: TestStack;
  let api: Awaited<ReturnType<typeof startHttp>>;
  let id: string;
  let requestId: string;
  before(async () => {
    stack = await createStack();
    api = await startHttp(stack);
    const start = await http(`${api.url}/v1/conversations`, 'POST', { message: 'My order A-100 arrived damaged, I want a refund' });
    assert.equal(start.status, 201);
    id = start.body.conversationId;
    requestId = start.body.pendingRequests[0].requestId;
  });
  after(async () => {
    await api.close();
    await stack.close();
  });

  const expectError = (res: { status: number; body: any }, status: number, code: string, field?: RegExp) => {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.error.code, code);
    assert.equal(typeof res.body.error.message, 'string');
    if (field) assert.match(res.body.error.message, field);
  };

  it('rejects each malformed request with its status and code, writing no history event', async () => {
    const before = await historyLength(stack, id);
    const url = `${api.url}/v1/conversations/${id}/responses`;
    expectError(await http(url, 'POST'), 400, 'INVALID_BODY', /^body:/);
    expectError(await http(url, 'POST', '{"responses": '), 400, 'INVALID_BODY', /not valid JSON/);
    expectError(await http(url, 'POST', { responses: 'yes' }), 400, 'INVALID_BODY', /^responses:/);
    expectError(await http(url, 'POST', { responses: {} }), 400, 'INVALID_BODY', /^responses:/);
    expectError(await http(url, 'POST', { responses: { [requestId]: 'yes' }, extra: 1 }), 400, 'INVALID_BODY', /^extra:/);
    expectError(await http(url, 'POST', { responses: { [requestId]: '' } }), 400, 'INVALID_BODY', new RegExp(`^responses\\["${requestId}"\\]: must not be empty`));
    expectError(await http(url, 'POST', { responses: { [requestId]: 42 } }), 422, 'RESPONSE_TYPE_MISMATCH', /expected a non-empty string or a list/);
    expectError(await http(url, 'POST', { responses: { [requestId]: { approved: true } } }), 422, 'RESPONSE_TYPE_MISMATCH');
    expectError(await http(url, 'POST', { responses: { 'r-404': 'yes' } }), 422, 'UNKNOWN_REQUEST', /no pending request has this id/);
    // All-or-nothing: one bad answer rejects the valid one beside it.
    expectError(await http(url, 'POST', { responses: { [requestId]: 'yes', 'r-404': 'yes' } }), 422, 'UNKNOWN_REQUEST');
    const big = 'x'.repeat(2 * 1024 * 1024);
    expectError(await http(url, 'POST', { responses: { [requestId]: big } }), 413, 'PAYLOAD_TOO_LARGE');
    expectError(await http(`${api.url}/v1/conversations`, 'POST'), 400, 'INVALID_BODY', /^body:/);
    expectError(await http(`${api.url}/v1/conversations`, 'POST', { message: 5 }), 400, 'INVALID_BODY', /^message:/);
    expectError(await http(`${api.url}/v1/conversations`, 'POST', { message: '   ' }), 400, 'INVALID_BODY', /^message:/);
    expectError(await http(`${api.url}/v1/conversations`, 'POST', { message: 'hi', team: 'nope' }), 400, 'INVALID_BODY', /^team: unknown team "nope"/);
    expectError(await http(`${api.url}/v1/conversations`, 'POST', { message: 'hi', conversationId: 'bad id!' }), 400, 'INVALID_BODY', /^conversationId:/);
    assert.equal(await historyLength(stack, id), before, 'no rejected answer wrote a history event');
  });

  it('answers 404 for unknown conversations', async () => {
    const missing = newConversationId('missing');
    expectError(await http(`${api.url}/v1/conversations/${missing}`, 'GET'), 404, 'CONVERSATION_NOT_FOUND');
    expectError(await http(`${api.url}/v1/conversations/${missing}/responses`, 'POST', { responses: { r1: 'yes' } }), 404, 'CONVERSATION_NOT_FOUND');
    expectError(await http(`${api.url}/v1/conversations/${missing}/checkpoints`, 'GET'), 404, 'CONVERSATION_NOT_FOUND');
    expectError(await http(`${api.url}/v1/conversations/${missing}/events`, 'GET'), 404, 'CONVERSATION_NOT_FOUND');
  });

  it('rejects a bad Update in the workflow validator itself, writing nothing', async () => {
    const before = await historyLength(stack, id);
    const handle = stack.client.workflow.getHandle(id);
    for (const [responses, type] of [
      [{ 'r-404': 'yes' }, 'UnknownRequest'],
      [{ [requestId]: '' }, 'InvalidInput'],
      [{ [requestId]: { approved: 'yes' } }, 'ResponseTypeMismatch'],
    ] as const) {
      await assert.rejects(
        stack.client.withDeadline(Date.now() + 10_000, () => handle.executeUpdate(respond, { args: [{ responses }] })),
        (err: unknown) => err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === type,
      );
    }
    assert.equal(await historyLength(stack, id), before);
  });

  it('applies a repeated answer once and returns the original result; a different answer gets 409', async () => {
    const conv = await http(`${api.url}/v1/conversations`, 'POST', { message: 'My order A-100 arrived damaged, I want a refund' });
    const cid = conv.body.conversationId;
    const rid = conv.body.pendingRequests[0].requestId;
    const url = `${api.url}/v1/conversations/${cid}/responses`;
    const first = await http(url, 'POST', { responses: { [rid]: 'yes please' } });
    assert.equal(first.status, 200);
    const historyAfterFirst = await historyLength(stack, cid);
    const again = await http(url, 'POST', { responses: { [rid]: 'yes please' } });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.events, first.body.events, 'the same result as the first time');
    assert.equal(again.body.status, first.body.status);
    assert.deepEqual(again.body.duplicates, [rid]);
    assert.equal(await historyLength(stack, cid), historyAfterFirst, 'the duplicate wrote nothing');
    const view = await http(`${api.url}/v1/conversations/${cid}`, 'GET');
    assert.equal(view.body.messages.filter((m: any) => m.text === 'yes please').length, 1, 'applied once');
    const different = await http(url, 'POST', { responses: { [rid]: 'no' } });
    expectError(different, 409, 'REQUEST_ALREADY_ANSWERED', new RegExp(`^responses\\["${rid}"\\]`));
  });

  it('starts a conversation idempotently by id and refuses a different first message', async () => {
    const cid = newConversationId('idem');
    const a = await http(`${api.url}/v1/conversations`, 'POST', { conversationId: cid, message: 'Where is my order A-101?' });
    assert.equal(a.status, 201);
    const b = await http(`${api.url}/v1/conversations`, 'POST', { conversationId: cid, message: 'Where is my order A-101?' });
    assert.equal(b.status, 201);
    assert.deepEqual(b.body.events, a.body.events);
    expectError(await http(`${api.url}/v1/conversations`, 'POST', { conversationId: cid, message: 'something else' }), 409, 'CONVERSATION_EXISTS');
    assert.equal(stack.model.calls(cid).filter((c) => c.agent === 'triage').length, 1);
  });

  it('answers 422 NO_PENDING_REQUESTS once the conversation has ended', async () => {
    const conv = await http(`${api.url}/v1/conversations`, 'POST', { message: 'hello' });
    const cid = conv.body.conversationId;
    const rid = conv.body.pendingRequests[0].requestId;
    const end = await http(`${api.url}/v1/conversations/${cid}/responses`, 'POST', { responses: { [rid]: [] } });
    assert.equal(end.status, 200);
    assert.equal(end.body.status, 'IDLE');
    expectError(await http(`${api.url}/v1/conversations/${cid}/responses`, 'POST', { responses: { r9: 'more' } }), 422, 'NO_PENDING_REQUESTS');
  });

  it('refuses input that would make the conversation too large, and the conversation keeps working', async () => {
    expectError(await http(`${api.url}/v1/conversations`, 'POST', { message: 'x'.repeat(100_001) }), 413, 'PAYLOAD_TOO_LARGE', /^message:/);
    const conv = await http(`${api.url}/v1/conversations`, 'POST', { message: 'hello', team: 'test-long' });
    const cid = conv.body.conversationId;
    let rid = conv.body.pendingRequests[0].requestId;
    const chunk = Array.from({ length: 9 }, () => 'y'.repeat(99_000));
    for (let i = 0; i < 5; i++) {
      const r = await http(`${api.url}/v1/conversations/${cid}/responses`, 'POST', { responses: { [rid]: chunk } });
      if (r.status !== 200) {
        expectError(r, 413, 'PAYLOAD_TOO_LARGE', /^responses: the conversation would exceed/);
        break;
      }
      rid = r.body.pendingRequests[0].requestId;
      assert.ok(i < 4, 'the budget stopped the growth');
    }
    const before = await historyLength(stack, cid);
    expectError(await http(`${api.url}/v1/conversations/${cid}/responses`, 'POST', { responses: { [rid]: chunk } }), 413, 'PAYLOAD_TOO_LARGE');
    assert.equal(await historyLength(stack, cid), before);
    const view = await http(`${api.url}/v1/conversations/${cid}`, 'GET');
    assert.equal(view.status, 200);
    const small = await http(`${api.url}/v1/conversations/${cid}/responses`, 'POST', { responses: { [rid]: [] } });
    assert.equal(small.status, 200, 'a small answer is still accepted');
  });

  it('treats prototype names as unknown request ids and malformed requests as 400', async () => {
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const body = `{"responses":{"${key}":"x"}}`;
      expectError(await http(`${api.url}/v1/conversations/${id}/responses`, 'POST', body), 422, 'UNKNOWN_REQUEST');
    }
    expectError(await http(`${api.url}/v1/conversations/a%zz`, 'GET'), 400, 'INVALID_BODY');
    const gz = await fetch(`${api.url}/v1/conversations`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: '{"message":"hi"}' });
    assert.equal(gz.status, 400);
    expectError(await http(`${api.url}/v1/conversations/${id}/restore`, 'POST', { checkpointId: `${id}~c1`, mode: null }), 400, 'INVALID_BODY', /^mode:/);
    const cid = newConversationId('team');
    assert.equal((await http(`${api.url}/v1/conversations`, 'POST', { conversationId: cid, message: 'hello' })).status, 201);
    expectError(await http(`${api.url}/v1/conversations`, 'POST', { conversationId: cid, message: 'hello', team: 'test-long' }), 409, 'CONVERSATION_EXISTS');
  });

  it('stops polling for SSE clients that leave before the stream starts', async () => {
    // Raw sockets that send the request and hang up at once: the close fires while the handler awaits Temporal.
    const { connect } = await import('node:net');
    const port = Number(new URL(api.url).port);
    await Promise.all(
      Array.from({ length: 20 }, () =>
        new Promise<void>((resolve) => {
          const sock = connect(port, '127.0.0.1', () => {
            sock.write(`GET /v1/conversations/${id}/events HTTP/1.1\r\nHost: x\r\n\r\n`, () => {
              sock.destroy();
              resolve();
            });
          });
          sock.on('error', () => resolve());
        }),
      ),
    );
    await new Promise((r) => setTimeout(r, 500));
    const deadline = Date.now() + 5_000;
    while (api.openStreams() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(api.openStreams(), 0);
  });

  it('waits for a running turn to finish before restoring, so accepted input is never cut off', async () => {
    const cid = newConversationId('busy');
    stack.model.script(cid, [{ content: 'How can I help?' }, { content: 'Working on it.', delayMs: 1500 }, { content: 'Again.' }]);
    const conv = await http(`${api.url}/v1/conversations`, 'POST', { conversationId: cid, message: 'hello' });
    const rid = conv.body.pendingRequests[0].requestId;
    const answering = http(`${api.url}/v1/conversations/${cid}/responses`, 'POST', { responses: { [rid]: 'do something' } });
    // Wait until the answer is accepted and its response checkpoint taken, while the turn still runs.
    let state;
    do {
      await new Promise((r) => setTimeout(r, 50));
      state = (await http(`${api.url}/v1/conversations/${cid}`, 'GET')).body;
    } while (state.status !== 'IN_PROGRESS' || state.lastCheckpointId === conv.body.events.filter((e: any) => e.type === 'checkpoint').at(-1).checkpointId);
    const restored = await http(`${api.url}/v1/conversations/${cid}/restore`, 'POST', { checkpointId: state.lastCheckpointId });
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.equal((await answering).status, 200);
    const view = (await http(`${api.url}/v1/conversations/${cid}`, 'GET')).body;
    assert.equal(view.messages.filter((m: any) => m.text === 'do something').length, 1, 'the accepted answer survived');
    assert.equal(view.status, 'IDLE_WITH_PENDING_REQUESTS');
  });
});
