/**
 * The deterministic demo policy of the scripted model (a test double, not a model): it plays the customer-support
 * story (triage hands off; refund looks the order up, asks to confirm, submits; order reports the status) from
 * nothing but the messages and tools of a validated request. Pure: same request, same reply.
 */
import type { ValidMessage, ValidTool } from './rules';

/** What the scripted model answers to one chat-completions request (scripted by a test, or from the demo policy). */
export interface ScriptedReply {
  /** Assistant text. */
  content?: string | null;
  /** Tool calls; object arguments are JSON-encoded, string arguments are sent verbatim. */
  toolCalls?: { name: string; arguments?: Record<string, unknown> | string; id?: string }[];
  /** Milliseconds to wait before answering (for streaming, before the first byte). */
  delayMs?: number;
  /** Answer with an OpenAI-style error of this HTTP status (400–599) instead. */
  status?: number;
}

/** Agent names the demo policy knows; other names get an echo reply. */
export const DEMO_AGENTS = { triage: 'triage', order: 'order', refund: 'refund' } as const;

/** Tool names the demo policy calls or looks for. */
export const DEMO_TOOLS = {
  handoffToRefund: 'handoff_to_refund',
  handoffToOrder: 'handoff_to_order',
  lookupOrder: 'lookup_order',
  submitRefund: 'submit_refund',
} as const;

/** Input of {@link demoPolicy}: the validated messages and tools, and the agent name (header `x-agent-name`). */
export interface DemoPolicyInput {
  messages: readonly ValidMessage[];
  tools: readonly ValidTool[];
  agent: string | null;
}

const ORDER_ID = /\b[A-Z]-\d{3,}\b/gi;
const WANTS_REFUND = /refund|damag|broken|return|money back/i;
const ASKS_ABOUT_ORDER = /order|status|where|track|ship|deliver/i;
const SAYS_YES = /\b(yes|yep|yeah|confirm|please do|go ahead|ok|okay|sure)\b/i;

/** A tool result with the call it answers. */
interface ToolResult {
  index: number;
  name: string | null;
  args: Record<string, unknown>;
  content: string;
  json: Record<string, unknown> | null;
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

function toolResults(messages: readonly ValidMessage[]): ToolResult[] {
  const results: ToolResult[] = [];
  messages.forEach((m, index) => {
    if (m.role !== 'tool') return;
    let call: { name: string; arguments: string } | undefined;
    for (let j = index - 1; j >= 0 && call === undefined; j--) {
      const prev = messages[j];
      if (prev?.role === 'assistant' && prev.tool_calls) {
        call = prev.tool_calls.find((c) => c.id === m.tool_call_id)?.function;
      }
    }
    results.push({
      index,
      name: call?.name ?? null,
      args: (call && parseObject(call.arguments)) ?? {},
      content: m.content,
      json: parseObject(m.content),
    });
  });
  return results;
}

/** Tool calls made by assistant messages after `afterIndex`. */
function callsAfter(messages: readonly ValidMessage[], afterIndex: number, name: string): number {
  let n = 0;
  messages.forEach((m, i) => {
    if (i > afterIndex && m.role === 'assistant') n += (m.tool_calls ?? []).filter((c) => c.function.name === name).length;
  });
  return n;
}

function concernsOrder(r: ToolResult, orderId: string): boolean {
  const ids = [r.args.order_id, r.json?.order_id].filter((v): v is string => typeof v === 'string');
  return ids.some((id) => id.toUpperCase() === orderId);
}

function money(value: unknown): string {
  return typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(2) : String(value);
}

function text(content: string): ScriptedReply {
  return { content };
}

function call(name: string, args: Record<string, unknown>): ScriptedReply {
  return { content: null, toolCalls: [{ name, arguments: args }] };
}

/** The agent a request is for: the header if given (matched case-insensitively later), else inferred from the tools offered. */
export function inferAgent(agentHeader: string | null, tools: readonly ValidTool[]): string {
  if (agentHeader !== null && agentHeader.trim() !== '') return agentHeader.trim();
  const names = new Set(tools.map((t) => t.function.name));
  if (names.has(DEMO_TOOLS.submitRefund)) return DEMO_AGENTS.refund;
  if (names.has(DEMO_TOOLS.lookupOrder)) return DEMO_AGENTS.order;
  return DEMO_AGENTS.triage;
}

/** The demo policy: a deterministic reply to a validated request for the named (or inferred) agent. */
export function demoPolicy(input: DemoPolicyInput): ScriptedReply {
  const { messages, tools } = input;
  const agent = inferAgent(input.agent, tools);
  const userTexts: string[] = [];
  let lastUserIndex = -1;
  messages.forEach((m, i) => {
    if (m.role === 'user') {
      userTexts.push(m.content);
      lastUserIndex = i;
    }
  });
  const lastUser = userTexts[userTexts.length - 1] ?? '';
  const orderIds = userTexts.flatMap((t) => t.match(ORDER_ID) ?? []);
  const lastOrderId = orderIds[orderIds.length - 1];
  const orderId = lastOrderId === undefined ? null : lastOrderId.toUpperCase();
  const offered = new Set(tools.map((t) => t.function.name));
  const results = toolResults(messages);
  const lookups = orderId === null ? [] : results.filter((r) => r.name === DEMO_TOOLS.lookupOrder && concernsOrder(r, orderId));
  const lookup = lookups[lookups.length - 1];

  switch (agent.toLowerCase()) {
    case DEMO_AGENTS.triage: {
      if (WANTS_REFUND.test(lastUser) && offered.has(DEMO_TOOLS.handoffToRefund)) {
        return call(DEMO_TOOLS.handoffToRefund, {});
      }
      if (ASKS_ABOUT_ORDER.test(lastUser) && offered.has(DEMO_TOOLS.handoffToOrder)) {
        return call(DEMO_TOOLS.handoffToOrder, {});
      }
      return text(
        "Hi, I'm the triage agent. I can route you to our order or refund specialists. What can I help you with?",
      );
    }

    case DEMO_AGENTS.refund: {
      if (orderId === null) return text('I can help with a refund. What is your order number (for example A-100)?');
      const submitted = results.filter((r) => r.name === DEMO_TOOLS.submitRefund);
      const latestSubmit = submitted.filter((r) => r.index > lastUserIndex).pop();
      if (latestSubmit !== undefined) {
        const status = latestSubmit.json?.status;
        if (status === 'submitted') {
          const amount = latestSubmit.json?.amount ?? latestSubmit.args.amount ?? lookup?.json?.total;
          return text(
            `Done: refund ${String(latestSubmit.json?.refund_id)} of $${money(amount)} for order ${orderId} is submitted. Anything else?`,
          );
        }
        if (status === 'rejected' || status === 'declined' || /rejected|declined/i.test(latestSubmit.content)) {
          return text(`Understood, I did not submit the refund for order ${orderId}. Anything else I can do?`);
        }
        return text(
          `The refund for order ${orderId} was not confirmed (${latestSubmit.content}). Anything else I can do?`,
        );
      }
      if (lookup === undefined) return call(DEMO_TOOLS.lookupOrder, { order_id: orderId });
      const order = lookup.json;
      if (order === null || order.error !== undefined) {
        return text(`I could not find order ${orderId}. Could you check the number?`);
      }
      // Never refund twice: a submitted refund for this order before the last user message stays submitted.
      const done = submitted.find((r) => r.json?.status === 'submitted' && concernsOrder(r, orderId));
      if (done !== undefined) {
        return text(
          `Refund ${String(done.json?.refund_id)} for order ${orderId} is already submitted. Anything else I can help with?`,
        );
      }
      if (SAYS_YES.test(lastUser) && callsAfter(messages, lastUserIndex, DEMO_TOOLS.submitRefund) === 0) {
        return call(DEMO_TOOLS.submitRefund, {
          order_id: orderId,
          amount: Number(order.total),
          reason: 'arrived damaged',
        });
      }
      return text(
        `Order ${orderId} (${String(order.item)}, $${money(order.total)}) was delivered on ${String(order.delivered_on)}. ` +
          `I can refund $${money(order.total)} because it arrived damaged. Shall I submit the refund? (yes/no)`,
      );
    }

    case DEMO_AGENTS.order: {
      if (orderId === null) {
        return text('Which order should I look up? Please give the order number (for example A-100).');
      }
      if (lookup === undefined) return call(DEMO_TOOLS.lookupOrder, { order_id: orderId });
      const order = lookup.json;
      if (order === null || order.error !== undefined) {
        return text(`I could not find order ${orderId}. Could you check the number?`);
      }
      const delivered = order.delivered_on ? ` It was delivered on ${String(order.delivered_on)}.` : '';
      return text(`Order ${orderId} (${String(order.item)}) is ${String(order.status)}.${delivered}`);
    }

    default:
      return text(`(scripted) ${agent} received: ${lastUser}`);
  }
}
