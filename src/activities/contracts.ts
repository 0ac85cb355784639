/**
 * Payloads of the activities. Workflow code imports these as types only; the implementations live beside them.
 */
import type { ToolCall } from '../domain/transcript';

/** Input of `callModel`: only references, so history stays flat as the conversation grows. */
export interface CallModelInput {
  conversationId: string;
  /** The run whose state the messages are read from (a query on that exact run). */
  runId: string;
  agent: string;
  /** Length of the transcript prefix to send. */
  upTo: number;
}

/** Result of `callModel`: the assistant's reply, normalised. */
export interface CallModelResult {
  text: string;
  toolCalls: ToolCall[];
  finishReason: string | null;
}

/** Input of `runTool`. */
export interface RunToolInput {
  conversationId: string;
  agent: string;
  tool: string;
  callId: string;
  /** The model's raw arguments string (JSON). */
  argumentsJson: string;
}

/** Result of `runTool`: the tool message content the model will see. */
export interface RunToolResult {
  content: string;
  ok: boolean;
}

/** The activities the workflow calls. */
export interface ConversationActivities {
  callModel(input: CallModelInput): Promise<CallModelResult>;
  runTool(input: RunToolInput): Promise<RunToolResult>;
  /**
   * Does nothing. Awaiting it ends the current workflow task, so the checkpoint taken after accepted input
   * lands in a task of its own whose reset point includes the accepted Update. (A 1 ms timer does the same but
   * the server fires it up to a second late.)
   */
  inputBoundary(): Promise<void>;
}
