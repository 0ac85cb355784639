/** The worker's `workflowsPath`: every workflow the worker registers. */
export { handoffConversation } from './handoff-conversation';
