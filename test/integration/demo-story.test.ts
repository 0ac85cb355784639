import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createStack, http, startHttp, type TestStack } from '../support/harness';

describe('the demo story over HTTP', () => {
  let stack: TestStack;
  let api: { url: string; close(): Promise<void> };
  before(async () => {
    stack = await createStack();
    api = await startHttp(stack);
  });
  after(async () => {
    await api.close();
    await stack.close();
  });

  it('hands a damaged order to refund, asks, takes an approval and confirms the refund', async () => {
    const start = await http(`${api.url}/v1/conversations`, 'POST', { message: 'My order A-100 arrived damaged, I want a refund' });
    assert.equal(start.status, 201, JSON.stringify(start.body));
    const id = start.body.conversationId as string;
    assert.match(start.body.links.webUi, new RegExp(`/namespaces/default/workflows/${id}$`));
    const types = start.body.events.map((e: { type: string }) => e.type);
    assert.equal(types[0], 'started');
    assert.deepEqual(
      start.body.events.filter((e: any) => e.type === 'handoff_sent').map((e: any) => [e.source, e.target]),
      [['triage', 'refund']],
    );
    assert.equal(start.body.status, 'IDLE_WITH_PENDING_REQUESTS');
    assert.equal(start.body.pendingRequests.length, 1);
    const ask = start.body.pendingRequests[0];
    assert.equal(ask.requestType, 'HandoffAgentUserRequest');
    assert.equal(ask.sourceExecutorId, 'refund');
    assert.match(ask.data.agentResponse.text, /Shall I submit the refund/);
    const seqs = start.body.events.map((e: any) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((a: number, b: number) => a - b), 'events are in seq order');

    const yes = await http(`${api.url}/v1/conversations/${id}/responses`, 'POST', { responses: { [ask.requestId]: 'yes please' } });
    assert.equal(yes.status, 200, JSON.stringify(yes.body));
    assert.equal(yes.body.status, 'IDLE_WITH_PENDING_REQUESTS');
    const approval = yes.body.pendingRequests[0];
    assert.equal(approval.requestType, 'FunctionApprovalRequest');
    assert.deepEqual(approval.data.arguments, { order_id: 'A-100', amount: 249, reason: 'arrived damaged' });
    assert.equal(approval.data.tool, 'submit_refund');

    const ok = await http(`${api.url}/v1/conversations/${id}/responses`, 'POST', { responses: { [approval.requestId]: { approved: true } } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const outputs = ok.body.events.filter((e: any) => e.type === 'output');
    assert.match(outputs.at(-1).text, /refund RF-[0-9A-F]{8} of \$249 for order A-100 is submitted/);
    assert.equal(ok.body.status, 'IDLE_WITH_PENDING_REQUESTS');
    assert.equal(ok.body.pendingRequests[0].sourceExecutorId, 'refund');

    const view = await http(`${api.url}/v1/conversations/${id}`, 'GET');
    assert.equal(view.status, 200);
    assert.equal(view.body.activeAgent, 'refund');
    assert.deepEqual(
      view.body.messages.map((m: any) => m.author),
      ['user', 'refund', 'user', 'refund'],
    );

    const end = await http(`${api.url}/v1/conversations/${id}/responses`, 'POST', { responses: { [ok.body.pendingRequests[0].requestId]: [] } });
    assert.equal(end.status, 200);
    assert.equal(end.body.status, 'IDLE');
    assert.deepEqual(end.body.pendingRequests, []);
    const after = await http(`${api.url}/v1/conversations/${id}`, 'GET');
    assert.equal(after.body.ended, true);

    // Every model call the scripted server saw was valid (no 400s) and none was repeated.
    const calls = stack.model.calls(id);
    assert.ok(calls.every((c) => c.status === 200), JSON.stringify(calls.map((c) => c.error)));
    assert.equal(calls.length, 5);
  });

  it('streams the events over SSE and resumes after Last-Event-ID', async () => {
    const start = await http(`${api.url}/v1/conversations`, 'POST', { message: 'Where is my order A-101?' });
    assert.equal(start.status, 201);
    const id = start.body.conversationId;
    const all = await readSse(`${api.url}/v1/conversations/${id}/events`, {}, start.body.events.at(-1).seq);
    assert.deepEqual(all.map((e) => e.id), start.body.events.map((e: any) => String(e.seq)));
    const later = await readSse(`${api.url}/v1/conversations/${id}/events`, { 'last-event-id': '5' }, start.body.events.at(-1).seq);
    assert.equal(later[0]!.id, '6');
    assert.equal(later.at(-1)!.event, 'status');
  });
});

async function readSse(url: string, headers: Record<string, string>, untilSeq: number): Promise<{ id: string; event: string; data: any }[]> {
  const ac = new AbortController();
  const res = await fetch(url, { headers, signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const out: { id: string; event: string; data: any }[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  const reader = res.body!.getReader();
  const timer = setTimeout(() => ac.abort(), 15_000);
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const f: Record<string, string> = {};
        for (const line of block.split('\n')) {
          const m = /^(\w+): ?(.*)$/.exec(line);
          if (m) f[m[1]!] = m[2]!;
        }
        if (f.id) out.push({ id: f.id, event: f.event ?? 'message', data: JSON.parse(f.data ?? 'null') });
        if (f.id && Number(f.id) >= untilSeq) return out;
      }
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return out;
}
