/**
 * Reads checkpoints out of Temporal history. A checkpoint is the memo upsert a workflow task wrote; the task's
 * WorkflowTaskCompleted event is its reset point. A conversation's lineage is every run reachable from the
 * current one through continue-as-new links and rewinds.
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import {
  CHECKPOINT_MEMO_FIELD,
  type CheckpointRecord,
  type HandoffConversationInput,
  type RewoundInput,
} from '../workflows/handoff-conversation.definitions';

const { EventType } = temporal.api.enums.v1;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Where a checkpoint lives in history. */
export interface CheckpointLocation {
  record: CheckpointRecord;
  runId: string;
  /** The WorkflowTaskCompleted event id to reset to. */
  resetEventId: number;
  /** Left behind by a rewind: not on the conversation's current branch (still restorable). */
  abandoned: boolean;
}

/** What one run's history says about checkpoints and lineage. */
export interface RunSummary {
  runId: string;
  closed: boolean;
  input: HandoffConversationInput | null;
  checkpoints: CheckpointLocation[];
  continuedFromRunId: string | null;
  rewoundFromRunIds: string[];
  events: number;
  bytes: number;
}

function payloadValue<T>(p: temporal.api.common.v1.IPayload | null | undefined): T | null {
  if (!p) return null;
  try {
    return defaultPayloadConverter.fromPayload<T>(p);
  } catch {
    return null;
  }
}

/** Parses the events of one run. */
export function summarizeRun(runId: string, events: readonly HistoryEvent[], bytes = 0): RunSummary {
  const summary: RunSummary = {
    runId,
    closed: false,
    input: null,
    checkpoints: [],
    continuedFromRunId: null,
    rewoundFromRunIds: [],
    events: events.length,
    bytes,
  };
  for (const e of events) {
    switch (e.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: {
        const a = e.workflowExecutionStartedEventAttributes;
        summary.continuedFromRunId = a?.continuedExecutionRunId || null;
        summary.input = payloadValue<HandoffConversationInput>(a?.input?.payloads?.[0]);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED: {
        const a = e.workflowPropertiesModifiedEventAttributes;
        const record = payloadValue<CheckpointRecord>(a?.upsertedMemo?.fields?.[CHECKPOINT_MEMO_FIELD]);
        if (record && a?.workflowTaskCompletedEventId != null) {
          summary.checkpoints.push({ record, runId, resetEventId: Number(a.workflowTaskCompletedEventId), abandoned: false });
        }
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: {
        const a = e.workflowExecutionSignaledEventAttributes;
        if (a?.signalName === 'rewound') {
          const r = payloadValue<RewoundInput>(a.input?.payloads?.[0]);
          if (r?.fromRunId) summary.rewoundFromRunIds.push(r.fromRunId);
        }
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
        summary.closed = true;
        break;
      default:
        break;
    }
  }
  return summary;
}

/** Fetches and summarises runs, caching closed runs (their history never changes). */
export class HistoryReader {
  private readonly closedRuns = new Map<string, RunSummary>();

  constructor(
    private readonly client: Client,
    private readonly maxCachedRuns = 500,
  ) {}

  /** Every event of one run (all pages). */
  async fetchEvents(workflowId: string, runId: string): Promise<{ events: HistoryEvent[]; bytes: number }> {
    const events: HistoryEvent[] = [];
    let bytes = 0;
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await this.client.workflowService.getWorkflowExecutionHistory({
        namespace: this.client.options.namespace,
        execution: { workflowId, runId },
        maximumPageSize: 1000,
        ...(nextPageToken ? { nextPageToken } : {}),
      });
      const pageEvents = page.history?.events ?? [];
      events.push(...pageEvents);
      if (page.history) bytes += temporal.api.history.v1.History.encode(page.history).finish().length;
      nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return { events, bytes };
  }

  /** One run's summary. */
  async run(workflowId: string, runId: string): Promise<RunSummary> {
    const cached = this.closedRuns.get(runId);
    if (cached) return cached;
    const { events, bytes } = await this.fetchEvents(workflowId, runId);
    const summary = summarizeRun(runId, events, bytes);
    if (summary.closed) {
      if (this.closedRuns.size >= this.maxCachedRuns) this.closedRuns.delete(this.closedRuns.keys().next().value!);
      this.closedRuns.set(runId, summary);
    }
    return summary;
  }

  /** Every run of the lineage, starting with `currentRunId` (newest first by discovery). */
  async lineage(workflowId: string, currentRunId: string): Promise<RunSummary[]> {
    const seen = new Set<string>();
    const out: RunSummary[] = [];
    const queue = [currentRunId];
    while (queue.length > 0) {
      const runId = queue.shift()!;
      if (seen.has(runId)) continue;
      seen.add(runId);
      let run: RunSummary;
      try {
        run = await this.run(workflowId, runId);
      } catch {
        continue; // A run past retention is gone; its checkpoints are gone with it.
      }
      out.push(run);
      if (run.continuedFromRunId) queue.push(run.continuedFromRunId);
      queue.push(...run.rewoundFromRunIds);
    }
    return out;
  }

  /**
   * Every checkpoint of the lineage, each once (the newest run holding it wins: a reset copies the prefix),
   * oldest first.
   */
  async checkpoints(workflowId: string, currentRunId: string): Promise<CheckpointLocation[]> {
    const runs = await this.lineage(workflowId, currentRunId);
    // The current branch: the current run and the runs it continued from; rewound-away runs are not on it.
    const live = new Set<string>();
    for (let run = runs.find((r) => r.runId === currentRunId); run; run = runs.find((r) => r.runId === run!.continuedFromRunId)) {
      if (live.has(run.runId)) break;
      live.add(run.runId);
    }
    const byId = new Map<string, CheckpointLocation>();
    for (const run of runs) {
      for (const cp of run.checkpoints) {
        if (!byId.has(cp.record.checkpointId)) byId.set(cp.record.checkpointId, { ...cp, abandoned: !live.has(run.runId) });
      }
    }
    // Oldest first by position (the counter), then time: a checkpoint re-taken by a rewind keeps its place.
    return [...byId.values()].sort(
      (a, b) => a.record.checkpointCounter - b.record.checkpointCounter || a.record.timestamp.localeCompare(b.record.timestamp),
    );
  }
}

/** The conversation id a checkpoint id belongs to (`<conversationId>~c<n>[suffix]`), or null. */
export function conversationOfCheckpoint(checkpointId: string): string | null {
  const i = checkpointId.lastIndexOf('~c');
  return i > 0 ? checkpointId.slice(0, i) : null;
}
