/**
 * The worker process: config → runtime (metrics, logging, shutdown signals) → connection → worker → run.
 * SIGTERM/SIGINT drain it: polling stops, in-flight activities get WORKER_SHUTDOWN_GRACE_MS, then it exits 0.
 */
import os from 'node:os';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig, loadDotEnv } from './src/config';
import { startWorkerHealthServer } from './src/observability/worker-health';
import { createConversationWorker, modelAccessOf } from './src/runtime/create-worker';
import { connectNative } from './src/runtime/temporal-connection';

const SDK_LEVEL = { debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR', silent: 'ERROR' } as const;

async function main(): Promise<void> {
  loadDotEnv();
  const cfg = loadConfig();
  Runtime.install({
    logger: new DefaultLogger(SDK_LEVEL[cfg.LOG_LEVEL]),
    telemetryOptions: { metrics: { prometheus: { bindAddress: `0.0.0.0:${cfg.WORKER_METRICS_PORT}` } } },
  });
  const connection = await connectNative(cfg);
  const worker = await createConversationWorker({
    connection,
    namespace: cfg.TEMPORAL_NAMESPACE,
    taskQueue: cfg.TEMPORAL_TASK_QUEUE,
    model: modelAccessOf(cfg),
    shutdownGraceTimeMs: cfg.WORKER_SHUTDOWN_GRACE_MS,
    identity: `${cfg.WORKER_BUILD_ID}@${os.hostname()}:${process.pid}`,
    ...(cfg.WORKFLOW_BUNDLE_PATH ? { workflowBundlePath: cfg.WORKFLOW_BUNDLE_PATH } : {}),
  });
  const health = await startWorkerHealthServer({
    port: cfg.WORKER_HEALTH_PORT,
    host: '0.0.0.0',
    getState: () => worker.getState(),
    getStatus: () => worker.getStatus(),
  });
  console.log(
    JSON.stringify({
      level: 'info',
      msg: 'worker running',
      taskQueue: cfg.TEMPORAL_TASK_QUEUE,
      buildId: cfg.WORKER_BUILD_ID,
      healthPort: health.port,
      metricsPort: cfg.WORKER_METRICS_PORT,
    }),
  );
  await worker.run(); // Resolves once a shutdown signal has drained the worker.
  await health.close();
  await connection.close();
  console.log(JSON.stringify({ level: 'info', msg: 'worker stopped' }));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
