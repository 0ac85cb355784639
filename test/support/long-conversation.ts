/** Drives a long conversation turn by turn (the demo policy's triage answers every greeting with a question). */
import type { TestStack } from './harness';

/** Result of {@link driveTurns}. */
export interface DriveResult {
  conversationId: string;
  /** History bytes the current run gained during each turn (null when the turn crossed a continue-as-new). */
  bytesPerTurn: (number | null)[];
}

/** Starts a conversation and answers `turns - 1` more times; measures history growth per turn when asked. */
export async function driveTurns(stack: TestStack, turns: number, opts: { measureAt?: number[]; conversationId?: string } = {}): Promise<DriveResult> {
  const c = stack.conversations;
  const measure = new Set(opts.measureAt ?? []);
  const bytesPerTurn: (number | null)[] = [];
  const runBytes = async (id: string) => {
    const runId = await c.currentRunId(id);
    const { bytes } = await c.history.fetchEvents(id, runId);
    return { runId, bytes };
  };
  const { conversationId, accept } = await c.start({ message: 'hello there', team: 'test-long', ...(opts.conversationId ? { conversationId: opts.conversationId } : {}) });
  let result = await c.collect(conversationId, c.follow(conversationId, accept.fromSeq));
  for (let turn = 2; turn <= turns; turn++) {
    const pending = result.pendingRequests[0];
    if (!pending) throw new Error(`turn ${turn}: nothing pending (status ${result.status})`);
    const before = measure.has(turn) ? await runBytes(conversationId) : null;
    const a = await c.respond(conversationId, { [pending.requestId]: `message number ${turn}` });
    result = await c.collect(conversationId, c.follow(conversationId, a.fromSeq));
    if (before) {
      const after = await runBytes(conversationId);
      bytesPerTurn[turn] = after.runId === before.runId ? after.bytes - before.bytes : null;
    }
  }
  return { conversationId, bytesPerTurn };
}
