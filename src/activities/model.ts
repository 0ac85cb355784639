/**
 * The model activity: one chat-completions call for one agent. It reads the agent's messages and tools from the
 * workflow by query (so the transcript is never copied into history per call) and returns the reply.
 */
import { Context } from '@temporalio/activity';
import OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { getModelRequest } from '../workflows/handoff-conversation.definitions';
import type { CallModelInput, CallModelResult } from './contracts';
import { classifyModelError } from './errors';

/** How the model activity reaches the model. */
export interface ModelAccess {
  apiKey: string;
  baseURL?: string;
  model: string;
  timeoutMs: number;
}

/** An openai client with its own retries off: Temporal owns retries. */
export function createOpenAIClient(access: ModelAccess): OpenAI {
  return new OpenAI({
    apiKey: access.apiKey,
    ...(access.baseURL ? { baseURL: access.baseURL } : {}),
    maxRetries: 0,
    timeout: access.timeoutMs,
  });
}

const HEARTBEAT_EVERY_MS = 2_000;

/** Creates `callModel`. */
export function createCallModel(access: ModelAccess, client: OpenAI = createOpenAIClient(access)) {
  return async function callModel(input: CallModelInput): Promise<CallModelResult> {
    const ctx = Context.current();
    // Heartbeats let Temporal notice a dead worker long before the start-to-close timeout. They start before the
    // query, which can wait on a dead worker's sticky queue for a few seconds.
    ctx.heartbeat({ phase: 'reading messages' });
    const beat = setInterval(() => ctx.heartbeat({ phase: 'waiting for model' }), HEARTBEAT_EVERY_MS);
    try {
      const handle = ctx.client.workflow.getHandle(input.conversationId, input.runId);
      const request = await ctx.client.withAbortSignal(ctx.cancellationSignal, () =>
        handle.query(getModelRequest, { agent: input.agent, upTo: input.upTo }),
      );
      const body: ChatCompletionCreateParamsNonStreaming = {
        model: request.model ?? access.model,
        messages: request.messages,
        ...(request.tools.length > 0 ? { tools: request.tools } : {}),
      };
      const completion = await client.chat.completions.create(body, {
        signal: ctx.cancellationSignal,
        headers: {
          'x-conversation-id': input.conversationId,
          'x-agent-name': input.agent,
          'x-attempt': String(ctx.info.attempt),
        },
      });
      const choice = completion.choices[0];
      const message = choice?.message;
      const toolCalls = (message?.tool_calls ?? [])
        .filter((c) => c.type === 'function')
        .map((c) => ({
          id: c.id,
          type: 'function' as const,
          function: { name: c.function.name, arguments: c.function.arguments || '{}' },
        }));
      return { text: message?.content ?? '', toolCalls, finishReason: choice?.finish_reason ?? null };
    } catch (err) {
      throw classifyModelError(err);
    } finally {
      clearInterval(beat);
    }
  };
}
