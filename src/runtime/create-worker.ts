/**
 * Builds a conversation worker. The workflow bundle is built once per process (or loaded from a prebuilt file in
 * production) and shared by every worker the process creates.
 */
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import path from 'node:path';
import { createActivities } from '../activities';
import type { ModelAccess } from '../activities/model';
import { usesScriptedModel, type Config } from '../config';

/** The workflows folder the bundle is built from. */
export const WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows', 'index.ts');

let bundle: Promise<WorkflowBundleWithSourceMap> | null = null;

/** The workflow bundle of this process, built on first use. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve(WORKFLOWS_PATH), logger: quietBundlerLogger });
  return bundle;
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => console.warn(m),
  error: (m: string) => console.error(m),
};

/** Options of {@link createConversationWorker}. */
export interface ConversationWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  model: ModelAccess;
  shutdownGraceTimeMs?: number;
  identity?: string;
  /** A prebuilt bundle (production); otherwise the bundle is built in-process. */
  workflowBundlePath?: string;
  maxCachedWorkflows?: number;
  /** How long work waits on a (possibly dead) worker's sticky queue before any worker may take it. */
  stickyQueueTimeoutMs?: number;
}

/** Creates (does not run) a worker for conversations. */
export async function createConversationWorker(opts: ConversationWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.workflowBundlePath ? { workflowBundle: { codePath: opts.workflowBundlePath } } : { workflowBundle: await workflowBundle() }),
    activities: createActivities({ model: opts.model }),
    shutdownGraceTime: opts.shutdownGraceTimeMs ?? 30_000,
    // After a worker dies, tasks and queries for its cached conversations wait this long on its sticky queue
    // before another worker gets them; the SDK default (10 s) equals the API's deadline and made them time out.
    stickyQueueScheduleToStartTimeout: opts.stickyQueueTimeoutMs ?? 3_000,
    ...(opts.identity ? { identity: opts.identity } : {}),
    ...(opts.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: opts.maxCachedWorkflows } : {}),
  });
}

/** Model access from config: the real endpoint with a key, else the scripted test double. */
export function modelAccessOf(cfg: Config): ModelAccess {
  if (!usesScriptedModel(cfg)) {
    return { apiKey: cfg.OPENAI_API_KEY!, ...(cfg.OPENAI_BASE_URL ? { baseURL: cfg.OPENAI_BASE_URL } : {}), model: cfg.OPENAI_MODEL, timeoutMs: cfg.MODEL_TIMEOUT_MS };
  }
  return {
    apiKey: 'scripted-test-double',
    baseURL: cfg.OPENAI_BASE_URL ?? `http://127.0.0.1:${cfg.SCRIPTED_MODEL_PORT}/v1`,
    model: cfg.OPENAI_MODEL,
    timeoutMs: cfg.MODEL_TIMEOUT_MS,
  };
}
