/**
 * Every place that names environment variables agrees with src/config.ts (ENV_VARIABLES / ENV_SCHEMA):
 * .env.example, docker-compose.yml, k8s/configmap.yaml + k8s/secret.example.yaml, and the configuration table
 * (README.md's `## Configuration`, or docs/configuration.md until the README has it). Values are checked with the
 * product's own zod schema, not compared as text.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { ENV_SCHEMA, ENV_VARIABLES, loadConfig } from '../../src/config';

const ROOT = path.resolve(__dirname, '..', '..');
const KNOWN = new Set<string>(ENV_VARIABLES);
const DEFAULTS = ENV_SCHEMA.parse({}) as Record<string, unknown>;
/** Variables that only the Secret may carry. */
const SECRET_VARIABLES = ['OPENAI_API_KEY', 'TEMPORAL_API_KEY'];
/** The product image; compose services running it may only set product variables. */
const PRODUCT_IMAGE = 'durable-handoff:latest';
/** The third-party images' own variables (by image repository), allowed on the infrastructure services only. */
const IMAGE_VARIABLES: Record<string, string[]> = {
  postgres: ['POSTGRES_USER', 'POSTGRES_PASSWORD', 'POSTGRES_DB', 'PGDATA'],
  'temporalio/server': ['DB', 'DB_PORT', 'POSTGRES_SEEDS', 'POSTGRES_USER', 'POSTGRES_PWD', 'BIND_ON_IP', 'DYNAMIC_CONFIG_FILE_PATH'],
  // The admin-tools setup scripts: the SQL tool's variables, and the temporal CLI's own TEMPORAL_ADDRESS/NAMESPACE.
  'temporalio/admin-tools': ['DB_PORT', 'POSTGRES_SEEDS', 'POSTGRES_USER', 'SQL_PASSWORD', 'TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE'],
  'temporalio/ui': ['TEMPORAL_ADDRESS', 'TEMPORAL_CORS_ORIGINS'],
};

// YAML documents are checked by schema or by assertion, so loose typing is enough here.
type Json = Record<string, any>;

function read(file: string): string {
  return readFileSync(path.join(ROOT, file), 'utf8');
}

function unknown(names: Iterable<string>): string[] {
  return [...names].filter((n) => !KNOWN.has(n));
}

/** Parses one variable's text value with its ENV_SCHEMA entry (as loadConfig does). */
function parseValue(name: string, value: string): unknown {
  const field = (ENV_SCHEMA.shape as Record<string, { safeParse(v: unknown): { success: boolean; data?: unknown } }>)[name];
  assert.ok(field, `${name} is in ENV_SCHEMA`);
  const parsed = field.safeParse(value);
  assert.ok(parsed.success, `${name}=${JSON.stringify(value)} is not valid for ENV_SCHEMA`);
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------------------------------

interface EnvLine {
  name: string;
  value: string;
  commented: boolean;
}

function parseEnvExample(): EnvLine[] {
  const out: EnvLine[] = [];
  for (const line of read('.env.example').split('\n')) {
    const m = /^(#\s*)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out.push({ name: m[2]!, value: m[3]!, commented: Boolean(m[1]) });
  }
  return out;
}

describe('.env.example', () => {
  it('lists every variable of ENV_VARIABLES exactly once, in the same order, and nothing else', () => {
    const lines = parseEnvExample();
    assert.deepEqual(unknown(lines.map((l) => l.name)), [], 'unknown variables in .env.example');
    assert.deepEqual(lines.map((l) => l.name), ENV_VARIABLES);
  });

  it('sets each variable that has a default to that default, and comments out the optional ones', () => {
    for (const line of parseEnvExample()) {
      const def = DEFAULTS[line.name];
      if (def === undefined) {
        assert.ok(line.commented, `${line.name} has no default, so it must be commented out`);
      } else {
        assert.ok(!line.commented, `${line.name} has a default, so it must be set`);
        assert.deepEqual(parseValue(line.name, line.value), def, `${line.name}: .env.example differs from ENV_SCHEMA`);
      }
    }
    const active = Object.fromEntries(parseEnvExample().filter((l) => !l.commented).map((l) => [l.name, l.value]));
    assert.deepEqual({ ...loadConfig(active) }, DEFAULTS);
  });

  it('gives examples for the optional variables that loadConfig accepts', () => {
    const all = Object.fromEntries(parseEnvExample().map((l) => [l.name, l.value]));
    const cfg = loadConfig(all);
    for (const line of parseEnvExample().filter((l) => l.commented && l.value !== '')) {
      assert.notEqual(cfg[line.name as keyof typeof cfg], undefined, `${line.name} example was not read`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------------

/** Every variable name interpolated anywhere in a YAML value: `${NAME}`, `${NAME:-default}`, `$NAME`; `$$` is a literal. */
function interpolatedNames(node: unknown, into = new Set<string>()): Set<string> {
  if (typeof node === 'string') {
    for (const m of node.matchAll(/\$(?:\$|\{([^}:?+\-]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))/g)) {
      const name = m[1] ?? m[2];
      if (name !== undefined) into.add(name);
    }
  } else if (Array.isArray(node)) {
    for (const item of node) interpolatedNames(item, into);
  } else if (node && typeof node === 'object') {
    for (const value of Object.values(node)) interpolatedNames(value, into);
  }
  return into;
}

/** `${NAME:-default}` etc. with nothing set, so each value is what `docker compose config` gives by default. */
function interpolateDefaults(value: string): string {
  return value.replace(/\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\})/g, (_m, dollar, _name, def) =>
    dollar ? '$' : (def ?? ''),
  );
}

function environmentOf(service: Json): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e: string) => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env as Record<string, unknown>).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml')) as Json;
  const services = Object.entries<Json>(compose.services);

  it('interpolates only variables of ENV_VARIABLES', () => {
    const names = interpolatedNames(compose);
    assert.ok(names.size > 10, `found ${names.size} interpolated variables`);
    assert.deepEqual(unknown(names), []);
  });

  it('sets only product variables on the product services, with values loadConfig accepts', () => {
    const product = services.filter(([, s]) => s.image === PRODUCT_IMAGE);
    assert.deepEqual(product.map(([n]) => n).sort(), ['api', 'scripted-model', 'worker']);
    for (const [name, service] of product) {
      const env = environmentOf(service);
      assert.deepEqual(unknown(Object.keys(env)), [], `${name} sets unknown variables`);
      const values = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolateDefaults(v)]));
      assert.doesNotThrow(() => loadConfig(values), `${name}: ${JSON.stringify(values)}`);
    }
  });

  it('gives api and worker the same product configuration, listening on all interfaces', () => {
    const api = environmentOf(compose.services.api);
    assert.deepEqual(environmentOf(compose.services.worker), api);
    assert.equal(loadConfig(Object.fromEntries(Object.entries(api).map(([k, v]) => [k, interpolateDefaults(v)]))).HOST, '0.0.0.0');
  });

  it('sets only the images\' own variables on the infrastructure services', () => {
    for (const [name, service] of services.filter(([, s]) => s.image !== PRODUCT_IMAGE)) {
      const repository = String(service.image).replace(/:[^/]*$/, '');
      const allowed = IMAGE_VARIABLES[repository];
      assert.ok(allowed, `${name}: no allowlist for image ${service.image}`);
      const extra = Object.keys(environmentOf(service)).filter((k) => !allowed.includes(k));
      assert.deepEqual(extra, [], `${name} (${repository}) sets variables that are neither its image's nor the product's`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------------

function k8sDoc(file: string, kind: string): Json {
  const docs = parseAllDocuments(read(path.join('k8s', file))).map((d) => d.toJS() as Json);
  const found = docs.filter((d) => d?.kind === kind);
  assert.equal(found.length, 1, `${file} holds one ${kind}`);
  return found[0]!;
}

describe('k8s/configmap.yaml and k8s/secret.example.yaml', () => {
  const configMap = k8sDoc('configmap.yaml', 'ConfigMap');
  const secret = k8sDoc('secret.example.yaml', 'Secret');
  const data = configMap.data as Record<string, string>;
  const secretData = secret.stringData as Record<string, string>;

  it('use only variables of ENV_VARIABLES, with the secrets only in the Secret', () => {
    assert.deepEqual(unknown(Object.keys(data)), []);
    assert.deepEqual(unknown(Object.keys(secretData)), []);
    assert.deepEqual(Object.keys(secretData).sort(), [...SECRET_VARIABLES].sort());
    for (const name of SECRET_VARIABLES) assert.ok(!(name in data), `${name} belongs in the Secret, not the ConfigMap`);
  });

  it('hold values loadConfig accepts', () => {
    const cfg = loadConfig({ ...data, ...secretData });
    assert.equal(cfg.HOST, '0.0.0.0');
  });

  it('name only known variables in their commented-out hints', () => {
    const hinted = [...read('k8s/configmap.yaml').matchAll(/^\s*#\s*([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!);
    assert.ok(hinted.length > 0);
    assert.deepEqual(unknown(hinted), []);
  });
});

// ---------------------------------------------------------------------------------------------------------------------

/** The file that holds the configuration table: README.md once it has `## Configuration`, else docs/configuration.md. */
function configurationDoc(): { file: string; text: string } {
  for (const file of ['README.md', path.join('docs', 'configuration.md')]) {
    if (!existsSync(path.join(ROOT, file))) continue;
    const text = read(file);
    if (/^## Configuration\s*$/m.test(text)) return { file, text };
  }
  assert.fail('neither README.md nor docs/configuration.md has a "## Configuration" section');
}

function configurationTable(): { file: string; rows: { name: string; def: string; meaning: string }[] } {
  const { file, text } = configurationDoc();
  const section = text.split(/^## Configuration\s*$/m)[1]!.split(/^## /m)[0]!;
  const lines = section.split('\n').filter((l) => l.trim().startsWith('|'));
  const cells = (l: string): string[] => l.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
  assert.deepEqual(cells(lines[0] ?? ''), ['Variable', 'Default', 'Meaning'], `${file}: table header`);
  assert.ok(cells(lines[1] ?? '').every((c) => /^:?-+:?$/.test(c)), `${file}: table separator`);
  const rows = lines.slice(2).map((l) => {
    const [name, def, meaning] = cells(l);
    return { name: (name ?? '').replace(/`/g, ''), def: def ?? '', meaning: meaning ?? '' };
  });
  return { file, rows };
}

describe('configuration table', () => {
  it('lists every variable of ENV_VARIABLES once, in order, each with a meaning', () => {
    const { file, rows } = configurationTable();
    assert.deepEqual(unknown(rows.map((r) => r.name)), [], `${file}: unknown variables`);
    assert.deepEqual(rows.map((r) => r.name), ENV_VARIABLES, file);
    for (const r of rows) assert.ok(r.meaning.length > 5, `${file}: ${r.name} has no meaning`);
  });

  it('shows the defaults of ENV_SCHEMA ("—" when there is none)', () => {
    const { file, rows } = configurationTable();
    for (const r of rows) {
      const def = DEFAULTS[r.name];
      if (def === undefined) {
        assert.equal(r.def, '—', `${file}: ${r.name} has no default`);
      } else {
        const m = /^`([^`]*)`$/.exec(r.def);
        assert.ok(m, `${file}: ${r.name} default should be a code span, got ${r.def}`);
        assert.deepEqual(parseValue(r.name, m[1]!), def, `${file}: ${r.name} default differs from ENV_SCHEMA`);
      }
    }
  });
});
