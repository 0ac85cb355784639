import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../src/runtime/create-worker';
import { createStack, type TestStack } from '../support/harness';

const HISTORIES = path.join(__dirname, '..', 'histories');

describe('workflow determinism', () => {
  let stack: TestStack;
  before(async () => {
    stack = await createStack();
  });
  after(async () => stack.close());

  it('replays every recorded history without a determinism error', async () => {
    const files = readdirSync(HISTORIES).filter((f) => f.endsWith('.json'));
    assert.ok(files.length > 0, 'at least one recorded history is committed');
    const bundle = await workflowBundle();
    for (const file of files) {
      const history = historyFromJSON(JSON.parse(readFileSync(path.join(HISTORIES, file), 'utf8')));
      assert.ok((history.events?.length ?? 0) > 20, `${file} is a real conversation`);
      await Worker.runReplayHistory({ workflowBundle: bundle, replayName: file }, history);
    }
  });

  it('replays a conversation recorded just now, including a rewind', async () => {
    const c = stack.conversations;
    const { conversationId, accept } = await c.start({ message: 'My order A-100 arrived damaged, I want a refund' });
    const r = await c.collect(conversationId, c.follow(conversationId, accept.fromSeq));
    const a = await c.respond(conversationId, { [r.pendingRequests[0]!.requestId]: 'yes please' });
    await c.collect(conversationId, c.follow(conversationId, a.fromSeq));
    const cps = await c.checkpoints(conversationId);
    const gen = c.restore({ checkpointId: cps[2]!.record.checkpointId, conversationId, responses: { [r.pendingRequests[0]!.requestId]: 'no' } });
    for await (const _ of gen) {
      // drain
    }
    const history = await stack.client.workflow.getHandle(conversationId).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history);
  });

  it('fails the replay when the workflow code no longer matches the history', async () => {
    const file = readdirSync(HISTORIES).find((f) => f.endsWith('.json'))!;
    const json = JSON.parse(readFileSync(path.join(HISTORIES, file), 'utf8'));
    // The same history under another workflow type must not replay: proves the check can fail.
    json.events[0].workflowExecutionStartedEventAttributes.workflowType.name = 'notAWorkflow';
    await assert.rejects(Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, historyFromJSON(json)));
  });
});
