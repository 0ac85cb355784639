/**
 * Tool implementations, registered by the names declared in src/domain/tool-specs.ts. Bad arguments become an
 * error result the model can read and correct; they are not activity failures.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TOOL_SPECS } from '../domain/tool-specs';
import type { RunToolInput, RunToolResult } from './contracts';

interface Order {
  order_id: string;
  item: string;
  total: number;
  currency: string;
  status: string;
  [k: string]: unknown;
}

/** Loads the demo orders file. */
export function loadOrders(file = path.join(__dirname, '..', '..', 'data', 'orders.json')): Order[] {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { orders: Order[] };
  return parsed.orders;
}

type ToolImpl = (args: Record<string, unknown>, input: RunToolInput) => unknown;

function checkArgs(tool: string, args: Record<string, unknown>): string | null {
  const schema = TOOL_SPECS[tool]?.parameters as { properties?: Record<string, { type?: string }>; required?: string[] } | undefined;
  for (const key of schema?.required ?? []) {
    if (args[key] === undefined) return `missing argument "${key}"`;
  }
  for (const [key, value] of Object.entries(args)) {
    const expected = schema?.properties?.[key]?.type;
    if (!expected) return `unknown argument "${key}"`;
    if (expected === 'number' ? typeof value !== 'number' || !Number.isFinite(value) : typeof value !== expected) {
      return `argument "${key}" must be a ${expected}`;
    }
  }
  return null;
}

/** Creates `runTool` over the given orders. */
export function createRunTool(orders: Order[] = loadOrders()) {
  const impls: Record<string, ToolImpl> = {
    lookup_order: (args) => {
      const id = String(args.order_id).trim().toUpperCase();
      return orders.find((o) => o.order_id === id) ?? { error: 'order not found', order_id: id };
    },
    submit_refund: (args, input) => {
      const id = String(args.order_id).trim().toUpperCase();
      const order = orders.find((o) => o.order_id === id);
      if (!order) return { status: 'failed', error: 'order not found', order_id: id };
      const amount = Number(args.amount);
      if (amount > order.total) return { status: 'failed', error: `amount exceeds the order total ${order.total}`, order_id: id };
      // The refund id derives from the tool call id, so a retried activity submits the same refund.
      const refundId = `RF-${createHash('sha256').update(`${input.conversationId}:${input.callId}`).digest('hex').slice(0, 8).toUpperCase()}`;
      return { status: 'submitted', refund_id: refundId, order_id: id, amount, currency: order.currency, reason: args.reason };
    },
  };
  return async function runTool(input: RunToolInput): Promise<RunToolResult> {
    const impl = impls[input.tool];
    if (!impl) return { ok: false, content: JSON.stringify({ error: `unknown tool "${input.tool}"` }) };
    let args: unknown;
    try {
      args = JSON.parse(input.argumentsJson || '{}');
    } catch {
      return { ok: false, content: JSON.stringify({ error: 'arguments are not valid JSON; call again with a JSON object' }) };
    }
    if (!args || typeof args !== 'object' || Array.isArray(args)) {
      return { ok: false, content: JSON.stringify({ error: 'arguments must be a JSON object' }) };
    }
    const problem = checkArgs(input.tool, args as Record<string, unknown>);
    if (problem) return { ok: false, content: JSON.stringify({ error: problem }) };
    return { ok: true, content: JSON.stringify(impl(args as Record<string, unknown>, input)) };
  };
}
