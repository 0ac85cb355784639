/**
 * The seed question, answered: a stateless backend receives a user-input request, forgets everything (as a new
 * process would), then delivers the user's answer to that exact conversation, first with the framework's
 * two-step pattern (`runStream({ checkpointId })` + `sendResponsesStreaming(responses)`, no flags to reset), then
 * with the single call `run({ checkpointId, responses })`.
 *
 * Run: `npx tsx examples/handoff-checkpoint-resume.ts` (uses TEMPORAL_ADDRESS if set, else starts a dev server;
 * uses the scripted test double as the model unless OPENAI_API_KEY is set).
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig } from '../src/config';
import { ConversationClient } from '../src/checkpoints/conversation-client';
import { HandoffWorkflow } from '../src/checkpoints/handoff-workflow';
import { settingsOf } from '../src/api/server';
import { createConversationWorker, modelAccessOf } from '../src/runtime/create-worker';
import { findTemporalCli, startDevServer } from '../src/runtime/dev-server';
import { startScriptedModel } from '../src/scripted-model/server';
import { loadTeams, teamDirs } from '../src/team-catalog';

/** A "process": its own Temporal connection and adapter objects, nothing shared with other processes. */
async function newProcess(address: string, taskQueue: string) {
  const cfg = loadConfig({ ...process.env, TEMPORAL_ADDRESS: address, TEMPORAL_TASK_QUEUE: taskQueue });
  const connection = await Connection.connect({ address });
  const conversations = new ConversationClient({
    client: new Client({ connection, namespace: cfg.TEMPORAL_NAMESPACE }),
    taskQueue,
    teams: loadTeams(teamDirs(cfg.TEAMS_DIR)),
    defaultTeam: cfg.DEFAULT_TEAM,
    settings: settingsOf(cfg),
    temporalTimeoutMs: cfg.API_TEMPORAL_TIMEOUT_MS,
    turnTimeoutMs: cfg.API_TURN_TIMEOUT_MS,
  });
  return { conversations, close: () => connection.close() };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const env = loadConfig();
  const dev = process.env.TEMPORAL_ADDRESS ? null : await startDevServer({ cli: findTemporalCli(env.TEMPORAL_CLI_PATH), headless: true });
  const address = dev?.address ?? env.TEMPORAL_ADDRESS;
  const model = env.OPENAI_API_KEY ? null : await startScriptedModel({ port: 0, log: () => undefined });
  const taskQueue = `example-${process.pid}`;
  const cfg = loadConfig({ ...process.env, TEMPORAL_ADDRESS: address, ...(model ? { OPENAI_BASE_URL: model.url } : {}) });
  const native = await NativeConnection.connect({ address });
  const worker = await createConversationWorker({ connection: native, namespace: cfg.TEMPORAL_NAMESPACE, taskQueue, model: modelAccessOf(cfg), shutdownGraceTimeMs: 2_000 });
  const running = worker.run();
  try {
    // --- Process 1: start the conversation and receive the user-input request.
    const p1 = await newProcess(address, taskQueue);
    const first = new HandoffWorkflow(p1.conversations);
    const requests: string[] = [];
    for await (const event of first.runStream({ message: 'My order A-100 arrived damaged, I want a refund' })) {
      if (event.type === 'handoff_sent') console.log(`handoff: ${event.source} -> ${event.target}`);
      if (event.type === 'output') console.log(`${event.author}: ${event.text}`);
      if (event.type === 'request_info') requests.push(event.requestId);
    }
    const conversationId = first.conversationId!;
    console.log(`paused: conversation ${conversationId} waits for ${requests.join(', ')}`);
    await p1.close(); // Drop every in-memory object, as a process restart would.

    // --- Process 2: the two-step pattern, exactly as the seed writes it.
    const p2 = await newProcess(address, taskQueue);
    const workflow = new HandoffWorkflow(p2.conversations);
    const checkpoint = await workflow.checkpointStorage.getLatest({ conversationId });
    const pendingRequestIds: string[] = [];
    for await (const event of workflow.runStream({ checkpointId: checkpoint!.checkpointId })) {
      if (event.type === 'request_info') pendingRequestIds.push(event.requestId);
      break; // Stop after checkpoint restoration: nothing stays locked, no private flags to reset.
    }
    const responses = Object.fromEntries(pendingRequestIds.map((id) => [id, 'yes please']));
    const approvals: string[] = [];
    for await (const event of workflow.sendResponsesStreaming(responses)) {
      if (event.type === 'output') console.log(`${event.author}: ${event.text}`);
      if (event.type === 'request_info') approvals.push(event.requestId);
    }
    console.log(`two-step pattern: answered ${pendingRequestIds.join(', ')}; now pending ${approvals.join(', ')}`);
    await p2.close();

    // --- Process 3: the single call, restore + responses together.
    const p3 = await newProcess(address, taskQueue);
    const again = new HandoffWorkflow(p3.conversations);
    const latest = await again.checkpointStorage.getLatest({ conversationId });
    const result = await again.run({ checkpointId: latest!.checkpointId, responses: { [approvals[0]!]: { approved: true } } });
    for (const o of result.outputs) console.log(`${o.author}: ${o.text}`);
    console.log(`single call: status ${result.status}, pending ${result.pendingRequests.map((r) => r.requestId).join(', ')}`);
    // An empty list ends the conversation (so the example leaves nothing waiting behind).
    const ended = await again.run({ responses: { [result.pendingRequests[0]!.requestId]: [] } });
    console.log(`ended: status ${ended.status}`);
    await p3.close();
  } finally {
    worker.shutdown();
    await running;
    await native.close();
    await model?.close();
    await dev?.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
