import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConversationError } from '../../src/checkpoints/errors';
import { validateRunArgs } from '../../src/checkpoints/handoff-workflow';

describe('run() parameters (the framework rules)', () => {
  it('rejects message with responses or checkpointId, and a call with none of them', () => {
    const bad = [{ message: 'a', responses: { r: 'x' } }, { message: 'a', checkpointId: 'c' }, {}];
    for (const args of bad) {
      assert.throws(() => validateRunArgs(args), (err: unknown) => err instanceof ConversationError && err.code === 'INVALID_BODY', JSON.stringify(args));
    }
  });

  it('accepts each allowed combination', () => {
    for (const args of [{ message: 'a' }, { responses: { r: 'x' } }, { checkpointId: 'c' }, { checkpointId: 'c', responses: { r: 'x' } }]) {
      assert.doesNotThrow(() => validateRunArgs(args));
    }
  });
});
