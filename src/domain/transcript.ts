/**
 * The conversation transcript and how each agent sees it. The transcript is append-only; a checkpoint refers to
 * a prefix of it by length. Each agent sees user messages, other agents' text (as named assistant messages) and
 * its own tool calls and results; the rendered list always satisfies the strict OpenAI message rules.
 */

/** An OpenAI chat-completions tool call. */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** An OpenAI chat-completions message, as this product sends them. */
export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string | null; name?: string; tool_calls?: ToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

/** One transcript entry. */
export type TranscriptEntry =
  /** A user message; `privateTo` marks a synthetic prompt only one agent sees (autonomous mode). */
  | { kind: 'user'; text: string; privateTo?: string }
  /** An agent's reply: text, tool calls, or both. */
  | { kind: 'agent'; agent: string; text: string; toolCalls: ToolCall[] }
  /** The result of one of `agent`'s tool calls (handoff calls included). */
  | { kind: 'tool'; agent: string; toolCallId: string; toolName: string; content: string };

/** Makes a name safe for OpenAI tool and message names: `^[a-zA-Z0-9_-]{1,64}$`. */
export function sanitizeName(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
  return cleaned.length > 0 ? cleaned : '_';
}

/** The handoff tool's name for a target agent: `handoff_to_<agent>`, sanitised and at most 64 characters. */
export function handoffToolName(target: string): string {
  return sanitizeName(`handoff_to_${target}`);
}

/**
 * Renders the messages `agent` sends to the model: its instructions, then the transcript prefix of length
 * `upTo` as that agent sees it.
 */
export function renderForAgent(
  transcript: readonly TranscriptEntry[],
  agent: string,
  instructions: string,
  upTo: number = transcript.length,
): ChatMessage[] {
  const messages: ChatMessage[] = [{ role: 'system', content: instructions }];
  for (const entry of transcript.slice(0, upTo)) {
    switch (entry.kind) {
      case 'user':
        if (entry.privateTo === undefined || entry.privateTo === agent) {
          messages.push({ role: 'user', content: entry.text });
        }
        break;
      case 'agent':
        if (entry.agent === agent) {
          if (entry.toolCalls.length > 0) {
            messages.push({ role: 'assistant', content: entry.text || null, tool_calls: entry.toolCalls });
          } else if (entry.text) {
            messages.push({ role: 'assistant', content: entry.text });
          }
        } else if (entry.text) {
          // Other agents' replies are shared as clean text only (the framework's broadcast), never their tool calls.
          messages.push({ role: 'assistant', content: entry.text, name: sanitizeName(entry.agent) });
        }
        break;
      case 'tool':
        if (entry.agent === agent) {
          messages.push({ role: 'tool', tool_call_id: entry.toolCallId, content: entry.content });
        }
        break;
    }
  }
  return messages;
}

/**
 * Checks the OpenAI ordering rules on a message list: every assistant `tool_calls` block is followed by exactly
 * one tool message per call id before anything else. Returns the first problem, or null.
 */
export function findMessageRuleViolation(messages: readonly ChatMessage[]): string | null {
  let open: Set<string> | null = null;
  for (const [i, m] of messages.entries()) {
    if (m.role === 'tool') {
      if (!open || !open.has(m.tool_call_id)) {
        return `messages[${i}]: tool message for ${m.tool_call_id} does not answer an open tool call`;
      }
      open.delete(m.tool_call_id);
      continue;
    }
    if (open && open.size > 0) {
      return `messages[${i}]: tool calls ${[...open].join(', ')} were not answered before a ${m.role} message`;
    }
    open = m.role === 'assistant' && m.tool_calls?.length ? new Set(m.tool_calls.map((c) => c.id)) : null;
  }
  if (open && open.size > 0) return `tool calls ${[...open].join(', ')} were never answered`;
  return null;
}

/** The text of every user-visible message in a transcript prefix, for termination checks. */
export function visibleTexts(transcript: readonly TranscriptEntry[]): { role: 'user' | 'agent'; text: string }[] {
  const out: { role: 'user' | 'agent'; text: string }[] = [];
  for (const e of transcript) {
    if (e.kind === 'user' && e.privateTo === undefined) out.push({ role: 'user', text: e.text });
    if (e.kind === 'agent' && e.text) out.push({ role: 'agent', text: e.text });
  }
  return out;
}

/** Total characters of text in a transcript (messages, tool calls and results). */
export function transcriptChars(transcript: readonly TranscriptEntry[]): number {
  let n = 0;
  for (const e of transcript) {
    if (e.kind === 'tool') n += e.content.length;
    else n += e.text.length;
    if (e.kind === 'agent') for (const c of e.toolCalls) n += c.function.arguments.length + c.function.name.length;
  }
  return n;
}
