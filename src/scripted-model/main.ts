/**
 * CLI entry of the scripted model (a test double, not a model): `npx tsx src/scripted-model/main.ts`.
 * Listens on `SCRIPTED_MODEL_PORT` (default 4010) and `HOST` (default 127.0.0.1); stops cleanly on SIGINT/SIGTERM.
 */
import { loadConfig } from '../config';
import { startScriptedModel, type ScriptedModel } from './server';

/** Starts the scripted model from the environment and stops it on SIGINT/SIGTERM (a second signal forces exit). */
export async function main(env: Record<string, string | undefined> = process.env): Promise<ScriptedModel> {
  const cfg = loadConfig(env);
  const model = await startScriptedModel({
    port: cfg.SCRIPTED_MODEL_PORT,
    host: cfg.HOST,
    log: (line) => console.error(line),
  });
  console.log(`scripted model (test double, not a model) listening on ${model.url}`);
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      console.error(`scripted model: ${signal} again, exiting now`);
      process.exit(1);
    }
    stopping = true;
    console.log(`scripted model: ${signal} received, stopping`);
    model.close().then(
      () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        console.log('scripted model: stopped');
      },
      (e: unknown) => {
        console.error(`scripted model: failed to stop: ${String(e)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return model;
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(`scripted model: failed to start: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  });
}
