/**
 * `npm test`: installs what the tests need (Temporal CLI, JSON schemas) if missing, starts ONE Temporal dev
 * server for the whole run, and runs every test file with Node's test runner against it.
 * `--unit` runs only the unit tier (no server). Extra arguments filter test files by substring.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { findTemporalCli, startDevServer } from '../src/runtime/dev-server';

const root = path.join(__dirname, '..');

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const full = path.join(dir, f);
    if (statSync(full).isDirectory()) return files(full);
    return f.endsWith('.test.ts') ? [full] : [];
  });
}

function runScript(script: string): void {
  const r = spawnSync('bash', [path.join(root, 'scripts', script)], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) throw new Error(`scripts/${script} failed`);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unitOnly = args.includes('--unit');
  const filters = args.filter((a) => !a.startsWith('--'));
  let selected = [...files(path.join(root, 'test', 'unit')), ...(unitOnly ? [] : files(path.join(root, 'test', 'integration')))];
  if (filters.length) selected = selected.filter((f) => filters.some((x) => f.includes(x)));
  if (existsSync(path.join(root, 'scripts', 'install-schemas.sh'))) runScript('install-schemas.sh');
  const env: NodeJS.ProcessEnv = { ...process.env };
  let stop: (() => Promise<void>) | null = null;
  if (!unitOnly && !process.env.TEMPORAL_ADDRESS) {
    let cli: string;
    try {
      cli = findTemporalCli(process.env.TEMPORAL_CLI_PATH);
    } catch {
      runScript('install-temporal.sh');
      cli = findTemporalCli(process.env.TEMPORAL_CLI_PATH);
    }
    const started = Date.now();
    const dev = await startDevServer({ cli, headless: true, logLevel: 'error' });
    console.log(`temporal dev server ${dev.address} ready in ${Date.now() - started} ms`);
    env.TEMPORAL_ADDRESS = dev.address;
    stop = dev.stop;
  }
  const started = Date.now();
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...selected], {
      stdio: 'inherit',
      env,
      cwd: root,
    });
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
  console.log(`test wall time: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await stop?.();
  return code;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
