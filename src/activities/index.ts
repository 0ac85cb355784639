/** The activities a worker registers. */
import type { ConversationActivities } from './contracts';
import { createCallModel, type ModelAccess } from './model';
import { createRunTool } from './tools';

export type { ConversationActivities } from './contracts';

/** Creates every activity with its dependencies. */
export function createActivities(deps: { model: ModelAccess }): ConversationActivities {
  return { callModel: createCallModel(deps.model), runTool: createRunTool(), inputBoundary: async () => undefined };
}
