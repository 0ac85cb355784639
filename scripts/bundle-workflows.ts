/**
 * Builds the workflow bundle at build time (production): the worker loads it through WORKFLOW_BUNDLE_PATH instead
 * of bundling at start. Must be built by the same @temporalio/worker version the worker runs.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

async function main(): Promise<void> {
  const out = path.join(__dirname, '..', 'dist', 'workflow-bundle.js');
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows/index.ts') });
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, code);
  console.log(`workflow bundle: ${out} (${(code.length / 1024).toFixed(0)} KiB)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
