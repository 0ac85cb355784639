import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { temporalAddress } from '../support/harness';

describe('examples/handoff-checkpoint-resume.ts', () => {
  it('resumes the paused conversation in a fresh process with the two-step pattern and with the single call', async () => {
    const address = await temporalAddress();
    const root = path.join(__dirname, '..', '..');
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'examples/handoff-checkpoint-resume.ts'], {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', TEMPORAL_ADDRESS: address },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /handoff: triage -> refund/);
    assert.match(out.stdout, /paused: conversation \S+ waits for (r1\.\w+)/);
    const asked = /waits for (r1\.\w+)/.exec(out.stdout)![1]!;
    assert.match(out.stdout, new RegExp(`two-step pattern: answered ${asked.replace('.', '\\.')}; now pending r2\\.\\w+`));
    assert.match(out.stdout, /refund: Done: refund RF-[0-9A-F]{8} of \$249 for order A-100 is submitted/);
    assert.match(out.stdout, /single call: status IDLE_WITH_PENDING_REQUESTS, pending r3\.\w+/);
    assert.match(out.stdout, /ended: status IDLE/);
  });
});
