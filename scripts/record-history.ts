/**
 * Records the demo story's workflow history as a replay fixture: `npx tsx scripts/record-history.ts <name>`.
 * Fixtures under test/histories are kept as they are; an ordinary test run never regenerates them.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createStack, stopTemporal } from '../test/support/harness';

async function main(): Promise<void> {
  const name = process.argv[2] ?? 'demo-story';
  const stack = await createStack();
  const c = stack.conversations;
  const { conversationId, accept } = await c.start({ message: 'My order A-100 arrived damaged, I want a refund', conversationId: `fixture-${name}` });
  let r = await c.collect(conversationId, c.follow(conversationId, accept.fromSeq));
  let a = await c.respond(conversationId, { [r.pendingRequests[0]!.requestId]: 'yes please' });
  r = await c.collect(conversationId, c.follow(conversationId, a.fromSeq));
  a = await c.respond(conversationId, { [r.pendingRequests[0]!.requestId]: { approved: true } });
  r = await c.collect(conversationId, c.follow(conversationId, a.fromSeq));
  a = await c.respond(conversationId, { [r.pendingRequests[0]!.requestId]: [] });
  await c.collect(conversationId, c.follow(conversationId, a.fromSeq));
  const history = await stack.client.workflow.getHandle(conversationId).fetchHistory();
  const { historyToJSON } = await import('@temporalio/common/lib/proto-utils');
  const file = path.join(__dirname, '..', 'test', 'histories', `${name}.json`);
  writeFileSync(file, historyToJSON(history));
  console.log(`wrote ${file} (${history.events?.length} events)`);
  await stack.close();
  await stopTemporal();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
