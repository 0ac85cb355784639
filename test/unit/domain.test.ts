import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { answerDigest, checkResponses } from '../../src/domain/answers';
import type { RequestInfoEvent } from '../../src/domain/events';
import { resolveTeam, TeamSpecError } from '../../src/domain/team';
import { findMessageRuleViolation, handoffToolName, renderForAgent, type TranscriptEntry } from '../../src/domain/transcript';
import { ConfigError, loadConfig } from '../../src/config';

const ask: RequestInfoEvent = {
  type: 'request_info', seq: 5, at: '2026-01-01T00:00:00.000Z', requestId: 'r1.aaaaaa', sourceExecutorId: 'refund',
  requestType: 'HandoffAgentUserRequest', data: { agentResponse: { agent: 'refund', text: 'Shall I?' } },
};
const approval: RequestInfoEvent = {
  type: 'request_info', seq: 6, at: '2026-01-01T00:00:00.000Z', requestId: 'r2.aaaaaa', sourceExecutorId: 'refund',
  requestType: 'FunctionApprovalRequest', data: { callId: 'c1', tool: 'submit_refund', arguments: {}, agent: 'refund' },
};

describe('answers', () => {
  it('accepts a string, a list of messages, or an empty list that ends the conversation', () => {
    const a = checkResponses({ 'r1.aaaaaa': 'yes' }, [ask], {});
    assert.ok(a.ok && a.accepted[0]!.answer.kind === 'messages');
    const b = checkResponses({ 'r1.aaaaaa': ['a', { role: 'user', content: 'b' }] }, [ask], {});
    assert.ok(b.ok);
    assert.deepEqual(b.ok && b.accepted[0]!.answer, { kind: 'messages', messages: ['a', 'b'] });
    const c = checkResponses({ 'r1.aaaaaa': [] }, [ask], {});
    assert.deepEqual(c.ok && c.accepted[0]!.answer, { kind: 'end' });
  });

  it('names the field and the fix for every rejected answer', () => {
    const cases: [unknown, string, RegExp][] = [
      [{ 'r1.aaaaaa': '' }, 'InvalidInput', /^responses\["r1\.aaaaaa"\]: must not be empty/],
      [{ 'r1.aaaaaa': 3 }, 'ResponseTypeMismatch', /^responses\["r1\.aaaaaa"\]: expected a non-empty string or a list/],
      [{ 'r1.aaaaaa': [{ role: 'assistant', content: 'x' }] }, 'ResponseTypeMismatch', /\[0\]/],
      [{ 'r2.aaaaaa': 'yes' }, 'ResponseTypeMismatch', /approved/],
      [{ 'r2.aaaaaa': { approved: true, extra: 1 } }, 'InvalidInput', /unknown field "extra"/],
      [{ nope: 'x' }, 'UnknownRequest', /pending: r1\.aaaaaa, r2\.aaaaaa/],
      [[], 'InvalidInput', /^responses:/],
      [{}, 'InvalidInput', /at least one/],
    ];
    for (const [responses, failure, message] of cases) {
      const r = checkResponses(responses, [ask, approval], {});
      assert.ok(!r.ok, JSON.stringify(responses));
      assert.equal(!r.ok && r.rejection.failure, failure);
      assert.match(!r.ok ? r.rejection.message : '', message);
    }
  });

  it('rejects the whole batch when one answer is bad', () => {
    const r = checkResponses({ 'r1.aaaaaa': 'fine', 'r2.aaaaaa': 'not an approval' }, [ask, approval], {});
    assert.equal(r.ok, false);
  });

  it('treats the same answer again as a duplicate and a different one as already answered', () => {
    const digest = answerDigest({ kind: 'messages', messages: ['yes'] });
    const same = checkResponses({ 'r1.aaaaaa': 'yes' }, [], { 'r1.aaaaaa': { digest } });
    assert.deepEqual(same.ok && same.duplicates, ['r1.aaaaaa']);
    const different = checkResponses({ 'r1.aaaaaa': 'no' }, [], { 'r1.aaaaaa': { digest } });
    assert.equal(!different.ok && different.rejection.failure, 'RequestAlreadyAnswered');
    const nothing = checkResponses({ x: 'no' }, [], {});
    assert.equal(!nothing.ok && nothing.rejection.failure, 'NoPendingRequests');
  });
});

describe('transcript rendering', () => {
  const transcript: TranscriptEntry[] = [
    { kind: 'user', text: 'refund please' },
    { kind: 'agent', agent: 'triage', text: '', toolCalls: [{ id: 'c1', type: 'function', function: { name: 'handoff_to_refund', arguments: '{}' } }] },
    { kind: 'tool', agent: 'triage', toolCallId: 'c1', toolName: 'handoff_to_refund', content: '{"handoff_to":"refund"}' },
    { kind: 'agent', agent: 'refund', text: 'Which order?', toolCalls: [] },
    { kind: 'user', text: 'continue', privateTo: 'refund' },
  ];

  it('shows an agent its own tool calls and only the text of others, always valid for OpenAI', () => {
    const triage = renderForAgent(transcript, 'triage', 'be triage');
    assert.deepEqual(triage.map((m) => m.role), ['system', 'user', 'assistant', 'tool', 'assistant']);
    assert.equal(findMessageRuleViolation(triage), null);
    const refund = renderForAgent(transcript, 'refund', 'be refund');
    assert.deepEqual(refund.map((m) => m.role), ['system', 'user', 'assistant', 'user']);
    assert.equal(findMessageRuleViolation(refund), null);
    const order = renderForAgent(transcript, 'order', 'be order');
    assert.ok(!order.some((m) => m.role === 'user' && m.content === 'continue'), 'private prompts stay private');
  });

  it('detects an unanswered tool call', () => {
    const broken = renderForAgent(transcript.slice(0, 2), 'triage', 'x');
    assert.match(findMessageRuleViolation(broken) ?? '', /never answered/);
  });

  it('sanitises handoff tool names to OpenAI rules', () => {
    assert.equal(handoffToolName('billing team'), 'handoff_to_billing_team');
    assert.ok(handoffToolName('x'.repeat(100)).length <= 64);
  });
});

describe('team specs', () => {
  const base = {
    v: 1, name: 't', startAgent: 'a',
    agents: [{ name: 'a', description: 'A', instructions: 'x' }, { name: 'b', description: 'B', instructions: 'y', tools: ['lookup_order'] }],
  };

  it('defaults to a full mesh without self routes and hashes the graph', () => {
    const team = resolveTeam(base);
    assert.deepEqual(team.routes, { a: ['b'], b: ['a'] });
    assert.match(team.graphSignatureHash, /^[0-9a-f]{64}$/);
    const sameGraph = resolveTeam({ ...base, agents: [{ ...base.agents[0], instructions: 'changed' }, base.agents[1]] });
    assert.equal(sameGraph.graphSignatureHash, team.graphSignatureHash);
    const otherRoutes = resolveTeam({ ...base, handoffs: { a: ['b'] } });
    assert.notEqual(otherRoutes.graphSignatureHash, team.graphSignatureHash);
  });

  it('names the field of every invalid team file', () => {
    const cases: [unknown, string][] = [
      [{ ...base, v: 2 }, 'v'],
      [{ ...base, startAgent: 'zz' }, 'startAgent'],
      [{ ...base, agents: [base.agents[0], { ...base.agents[1], tools: ['nope'] }] }, 'agents[1].tools[0]'],
      [{ ...base, handoffs: { a: ['a'] } }, 'handoffs.a[0]'],
      [{ ...base, agents: [base.agents[0], base.agents[0]] }, 'agents[1].name'],
      [{ ...base, agents: [{ ...base.agents[0], name: 'has space' }] }, 'agents[0].name'],
      [{ ...base, extra: true }, '(root)'],
    ];
    for (const [raw, field] of cases) {
      assert.throws(() => resolveTeam(raw, 'teams/t.yaml'), (err: unknown) => err instanceof TeamSpecError && err.field === field, field);
    }
  });
});

describe('config', () => {
  it('parses defaults and fails naming the variable', () => {
    const cfg = loadConfig({});
    assert.equal(cfg.PORT, 3000);
    assert.ok(Object.isFrozen(cfg));
    assert.throws(() => loadConfig({ PORT: 'eighty' }), (err: unknown) => err instanceof ConfigError && /^PORT:/.test(err.message));
    assert.throws(() => loadConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/x' }), /TEMPORAL_TLS_CLIENT_KEY_PATH/);
  });
});

describe('.env loading', () => {
  it('sets missing variables from the file and never overrides the environment', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadDotEnv } = await import('../../src/config');
    const dir = mkdtempSync(join(tmpdir(), 'env-'));
    const file = join(dir, '.env');
    writeFileSync(file, '# comment\nPORT=3961\nHOST="0.0.0.0"\nLOG_LEVEL=warn # trailing\nexport OPENAI_MODEL=x\n');
    const env: Record<string, string | undefined> = { HOST: '127.0.0.1' };
    assert.deepEqual(loadDotEnv(file, env).sort(), ['LOG_LEVEL', 'OPENAI_MODEL', 'PORT']);
    assert.deepEqual(env, { HOST: '127.0.0.1', PORT: '3961', LOG_LEVEL: 'warn', OPENAI_MODEL: 'x' });
    assert.deepEqual(loadDotEnv(join(dir, 'missing'), env), []);
  });
});
