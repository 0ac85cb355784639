import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, it } from 'node:test';

// Stands in for a no-restricted-imports lint rule: workflow code runs in Temporal's deterministic sandbox.
const WORKFLOWS = path.join(__dirname, '..', '..', 'src', 'workflows');
const FORBIDDEN = [/^node:/, /^openai/, /^express/, /\/api\//, /\/checkpoints\//, /\/runtime\//, /\/scripted-model\//, /^@temporalio\/(client|worker|activity)$/];

function importsOf(source: string): { spec: string; typeOnly: boolean }[] {
  const out: { spec: string; typeOnly: boolean }[] = [];
  for (const m of source.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^']+)';/gms)) out.push({ spec: m[2]!, typeOnly: !!m[1] });
  return out;
}

describe('workflow code', () => {
  it('imports no I/O: no Node builtins, clients, API or activity runtime code', () => {
    const files = readdirSync(WORKFLOWS).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length >= 3);
    for (const file of files) {
      for (const { spec, typeOnly } of importsOf(readFileSync(path.join(WORKFLOWS, file), 'utf8'))) {
        assert.ok(!builtinModules.includes(spec), `${file} imports the Node builtin ${spec}`);
        assert.ok(!FORBIDDEN.some((re) => re.test(spec)), `${file} imports ${spec}`);
        if (spec.includes('/activities/')) assert.ok(typeOnly, `${file} must import activities as types only (${spec})`);
        if (spec.includes('/domain/team')) assert.ok(typeOnly, `${file} must not bundle zod/crypto from ${spec}`);
      }
    }
  });

  it('keeps no conversation state in module-level variables (modules are shared between runs)', () => {
    for (const file of readdirSync(WORKFLOWS).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(path.join(WORKFLOWS, file), 'utf8');
      assert.ok(!/^(let|var)\s/m.test(source), `${file} has a module-level let/var`);
    }
  });
});
