/**
 * The tools agents may use, as data: name, description, JSON schema of the arguments and approval mode.
 * Implementations live in the worker (src/activities/tools.ts) and are registered under the same names.
 */

/** Whether a tool call needs a human's approval before it runs. */
export const ApprovalMode = { never: 'never', always: 'always' } as const;
export type ApprovalMode = (typeof ApprovalMode)[keyof typeof ApprovalMode];

/** A tool's declaration. */
export interface ToolSpec {
  name: string;
  description: string;
  /** JSON schema of the arguments object. */
  parameters: Record<string, unknown>;
  approval: ApprovalMode;
}

/** Every tool the worker implements. */
export const TOOL_SPECS: Readonly<Record<string, ToolSpec>> = {
  lookup_order: {
    name: 'lookup_order',
    description: 'Look up an order by its number (for example A-100): item, total, status and delivery date.',
    parameters: {
      type: 'object',
      properties: { order_id: { type: 'string', description: 'The order number, e.g. A-100' } },
      required: ['order_id'],
      additionalProperties: false,
    },
    approval: ApprovalMode.never,
  },
  submit_refund: {
    name: 'submit_refund',
    description: 'Submit a refund for an order. Always requires the customer to approve it first.',
    parameters: {
      type: 'object',
      properties: {
        order_id: { type: 'string' },
        amount: { type: 'number', exclusiveMinimum: 0 },
        reason: { type: 'string' },
      },
      required: ['order_id', 'amount', 'reason'],
      additionalProperties: false,
    },
    approval: ApprovalMode.always,
  },
};
