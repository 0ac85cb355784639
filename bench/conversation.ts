/**
 * Measures what the issues ask for, against a real dev server and the scripted model:
 *   - one turn's latency (answer → settled status) with the scripted model;
 *   - history bytes one turn adds, at turn 10 and at turn 300;
 *   - time to list checkpoints and to restore (rewind to the previous pending checkpoint) at 10 and 300 turns.
 * Run: `npx tsx bench/conversation.ts` (writes bench/results/conversation.json).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createStack, stopTemporal } from '../test/support/harness';
import { driveTurns } from '../test/support/long-conversation';

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function main(): Promise<void> {
  const stack = await createStack({ settings: { continueAsNewAfterEvents: 4000 } });
  const c = stack.conversations;
  const results: Record<string, unknown> = {};

  // Turn latency: 30 answers to the start agent.
  const { conversationId: latencyId, accept } = await c.start({ message: 'hello', team: 'test-long' });
  let r = await c.collect(latencyId, c.follow(latencyId, accept.fromSeq));
  const latencies: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    const a = await c.respond(latencyId, { [r.pendingRequests[0]!.requestId]: `turn ${i}` });
    r = await c.collect(latencyId, c.follow(latencyId, a.fromSeq));
    latencies.push(performance.now() - t0);
  }
  results.turnLatencyMs = { p50: Math.round(percentile(latencies, 50)), p90: Math.round(percentile(latencies, 90)), max: Math.round(Math.max(...latencies)) };

  for (const turns of [10, 300]) {
    const { conversationId, bytesPerTurn } = await driveTurns(stack, turns, { measureAt: [turns] });
    const t0 = performance.now();
    const cps = await c.checkpoints(conversationId);
    const listMs = performance.now() - t0;
    const t1 = performance.now();
    const warm = await c.checkpoints(conversationId);
    const listWarmMs = performance.now() - t1;
    // Rewind to the pending checkpoint one turn back, answering it.
    const target = [...warm].reverse().filter((x) => x.record.pendingRequests.length > 0)[1]!;
    const t2 = performance.now();
    for await (const _ of c.restore({ checkpointId: target.record.checkpointId, conversationId, responses: { [target.record.pendingRequests[0]!.requestId]: 'rewound answer' } })) {
      // drain
    }
    const restoreMs = performance.now() - t2;
    results[`turn${turns}`] = {
      historyBytesThisTurn: bytesPerTurn[turns],
      checkpoints: cps.length,
      listCheckpointsMs: Math.round(listMs),
      listCheckpointsCachedMs: Math.round(listWarmMs),
      restoreWithResponsesMs: Math.round(restoreMs),
    };
  }
  console.log(JSON.stringify(results, null, 2));
  const dir = path.join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'conversation.json'), JSON.stringify({ at: new Date().toISOString(), ...results }, null, 2));
  await stack.close();
  await stopTemporal();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
