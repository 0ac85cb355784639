import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createStack, type TestStack } from '../support/harness';
import { driveTurns } from '../support/long-conversation';

const TURNS = 300;
const THRESHOLD = 250;

describe('a 300-turn conversation with a low continue-as-new threshold', () => {
  let stack: TestStack;
  before(async () => {
    stack = await createStack({ settings: { continueAsNewAfterEvents: THRESHOLD }, turnTimeoutMs: 30_000 });
  });
  after(async () => stack.close());

  it('keeps each run bounded, every checkpoint listable, seq continuous, and restores the oldest checkpoint', async () => {
    const c = stack.conversations;
    const { conversationId, bytesPerTurn } = await driveTurns(stack, TURNS, { measureAt: [10, 11, TURNS - 1, TURNS] });
    const runId = await c.currentRunId(conversationId);
    const runs = await c.history.lineage(conversationId, runId);
    assert.ok(runs.length >= 5, `continued as new several times (${runs.length} runs)`);
    for (const run of runs) assert.ok(run.events < THRESHOLD + 60, `run ${run.runId} has ${run.events} events`);

    // History per turn stays flat: the model activity reads the transcript by query instead of carrying it.
    const early = bytesPerTurn.slice(10, 12).filter((b): b is number => b !== null);
    const late = bytesPerTurn.slice(TURNS - 1, TURNS + 1).filter((b): b is number => b !== null);
    assert.ok(early.length > 0 && late.length > 0, `measured ${JSON.stringify(bytesPerTurn.filter(Boolean))}`);
    assert.ok(Math.max(...late) < Math.min(...early) * 1.5, `bytes per turn early ${early} vs late ${late}`);

    // Every checkpoint of every run is listed, in one unbroken parent chain.
    const cps = await c.checkpoints(conversationId);
    assert.equal(cps.length, 2 + 2 * (TURNS - 1), 'entry + superstep, then response + superstep per turn');
    assert.equal(cps[0]!.record.previousCheckpointId, null);
    for (let i = 1; i < cps.length; i++) assert.equal(cps[i]!.record.previousCheckpointId, cps[i - 1]!.record.checkpointId);
    // Every run holds checkpoints, except a newest run continued-as-new at a quiet point and not yet answered.
    assert.ok(new Set(cps.map((x) => x.runId)).size >= runs.length - 1, 'checkpoints come from every run');

    // The event log reads back across runs with a continuous seq.
    const events = (await c.readEvents(conversationId, 0)).events;
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));

    // The oldest checkpoint (in the first run, long closed by continue-as-new) still restores.
    const oldest = cps[0]!;
    assert.notEqual(oldest.runId, runId);
    for await (const _ of c.restore({ checkpointId: oldest.record.checkpointId, conversationId })) {
      // drain
    }
    const state = await c.state(conversationId);
    assert.equal(state.messages.filter((m) => m.role === 'user').length, 1);
    assert.equal(state.pendingRequests.length, 1);
    assert.equal(state.lineage.rewinds.at(-1)!.checkpointId, oldest.record.checkpointId);
  });

  it('rewinds a run with more events than one page of the event log', async () => {
    const big = await createStack({ turnTimeoutMs: 30_000 });
    try {
      const c = big.conversations;
      const { conversationId } = await driveTurns(big, 50);
      const cps = await c.checkpoints(conversationId);
      assert.ok(cps.at(-1)!.record.eventSeq > 500, `the log is longer than one page (${cps.at(-1)!.record.eventSeq})`);
      const target = [...cps].reverse().filter((x) => x.record.pendingRequests.length > 0)[1]!;
      const rid = target.record.pendingRequests[0]!.requestId;
      for await (const _ of c.restore({ checkpointId: target.record.checkpointId, conversationId, responses: { [rid]: 'a different answer' } })) {
        // drain
      }
      const state = await c.state(conversationId);
      assert.equal(state.messages.filter((m) => m.role === 'user').at(-1)!.text, 'a different answer');
      assert.equal(state.pendingRequests.length, 1);
    } finally {
      await big.close();
    }
  });
});
