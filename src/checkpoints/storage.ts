/**
 * The framework's `CheckpointStorage` over Temporal history. Checkpoints are written by the workflow itself (memo
 * upserts), so `save` is not offered and `delete` deletes nothing: history is immutable and a conversation's
 * checkpoints go when the namespace's retention removes its closed runs.
 */
import type { CheckpointRecord } from '../workflows/handoff-conversation.definitions';
import type { ConversationClient } from './conversation-client';
import { ConversationError, ErrorCode } from './errors';

/** Which checkpoints to list: one conversation's, or every conversation's of a team (workflow name). */
export type CheckpointQuery = { conversationId: string } | { workflowName: string };

/** Checkpoints of conversations, read from Temporal history. */
export class TemporalCheckpointStorage {
  constructor(private readonly conversations: ConversationClient) {}

  /** Checkpoints oldest first. For a team, conversations newest first, each oldest-first. */
  async listCheckpoints(query: CheckpointQuery): Promise<CheckpointRecord[]> {
    if ('conversationId' in query) {
      return (await this.conversations.checkpoints(query.conversationId)).map((l) => l.record);
    }
    const ids = await this.conversationsOfTeam(query.workflowName);
    const out: CheckpointRecord[] = [];
    for (const id of ids) out.push(...(await this.conversations.checkpoints(id)).map((l) => l.record));
    return out;
  }

  /** The ids of {@link listCheckpoints}. */
  async listCheckpointIds(query: CheckpointQuery): Promise<string[]> {
    return (await this.listCheckpoints(query)).map((c) => c.checkpointId);
  }

  /** One checkpoint; CHECKPOINT_NOT_FOUND when it does not exist (never a silent fallback to an older one). */
  async load(checkpointId: string): Promise<CheckpointRecord> {
    return (await this.conversations.locate(checkpointId)).record;
  }

  /** The newest checkpoint by timestamp (lineage order breaks ties), or null when there is none. */
  async getLatest(query: CheckpointQuery): Promise<CheckpointRecord | null> {
    const all = await this.listCheckpoints(query);
    let latest: CheckpointRecord | null = null;
    for (const c of all) if (!latest || c.timestamp >= latest.timestamp) latest = c;
    return latest;
  }

  /**
   * Always resolves to false: checkpoints are Temporal history events and cannot be deleted one by one. They are
   * removed with the conversation's closed runs when the namespace's retention period ends.
   */
  async delete(_checkpointId: string): Promise<boolean> {
    return false;
  }

  /** Not offered: the workflow takes checkpoints itself at every superstep and when responses are accepted. */
  async save(_checkpoint: CheckpointRecord): Promise<never> {
    throw new ConversationError(ErrorCode.NOT_SUPPORTED, 'checkpoints are taken by the conversation workflow itself; save() is not supported');
  }

  private async conversationsOfTeam(team: string): Promise<string[]> {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(team)) throw new ConversationError(ErrorCode.INVALID_BODY, `workflowName: "${team}" is not a team name`);
    const ids: string[] = [];
    await this.conversations.call(undefined, async () => {
      for await (const wf of this.conversations.client.workflow.list({ query: `WorkflowType = 'handoffConversation' AND TeamName = '${team}'` })) {
        ids.push(wf.workflowId);
      }
    });
    return ids;
  }
}
