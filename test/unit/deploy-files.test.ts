/**
 * Validates the deployment files against the official schemas, offline:
 * - docker-compose.yml against the Compose Specification JSON schema (draft 2019-09),
 * - every manifest in k8s/ against the Kubernetes JSON schemas (draft 2020-12, "local-strict" flavour: unknown
 *   fields are errors) of each version in K8S_VERSIONS,
 * plus the cross-file rules a schema cannot express (kustomization lists every manifest, grace periods, probes, …).
 * The schemas come from pinned registry packages installed by `bash scripts/install-schemas.sh` into .tools/schemas/;
 * when they are missing these tests fail (they never download anything).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Ajv2019 from 'ajv/dist/2019';
import Ajv2020 from 'ajv/dist/2020';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parse, parseAllDocuments } from 'yaml';

const ROOT = path.resolve(__dirname, '..', '..');
const SCHEMAS = path.join(ROOT, '.tools', 'schemas');
const K8S_DIR = path.join(ROOT, 'k8s');
const INSTALL_HINT = 'run `bash scripts/install-schemas.sh` (installs the pinned schema packages into .tools/schemas/)';
/** Kubernetes versions the manifests must be valid for (installed by scripts/install-schemas.sh). */
const K8S_VERSIONS = ['v1.30.0', 'v1.37.0'];
/** Manifests in k8s/ that kustomization.yaml deliberately leaves out. */
const NOT_IN_KUSTOMIZATION = ['kustomization.yaml', 'secret.example.yaml'];

// YAML documents are checked by schema or by assertion, so loose typing is enough here.
type Json = Record<string, any>;

function readSchema(...parts: string[]): Json {
  const file = path.join(SCHEMAS, ...parts);
  if (!existsSync(file)) {
    assert.fail(`schema ${path.relative(ROOT, file)} is missing: ${INSTALL_HINT}`);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as Json;
}

function formatErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map((e) => `  ${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`)
    .join('\n');
}

/** Every `x-…` extension keyword used in a schema, so Ajv's strict mode accepts them as annotations. */
function extensionKeywords(node: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const item of node) extensionKeywords(item, into);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key.startsWith('x-')) into.add(key);
      extensionKeywords(value, into);
    }
  }
  return into;
}

// ---------------------------------------------------------------------------------------------------------------------
// Compose
// ---------------------------------------------------------------------------------------------------------------------

/** Go duration (Compose's `duration` format): 1h30m, 10s, 500ms, 1.5s. */
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
/** Compose's `ports` short syntax: [[HOST_IP:]HOST_PORT[-RANGE]:]CONTAINER_PORT[-RANGE][/PROTOCOL]. */
const COMPOSE_PORTS = /^(?:(?:\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(?:\d+(?:-\d+)?:)?\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/;
/** Compose's `expose` format (the Compose project's own regex). */
const COMPOSE_EXPOSE = /^\d+(-\d+)?(\/[a-zA-Z]+)?$/;

let composeValidator: ValidateFunction | undefined;
function validateCompose(doc: unknown): { valid: boolean; errors: string } {
  if (!composeValidator) {
    const schema = structuredClone(readSchema('compose', 'compose_spec.json'));
    // The file names its meta-schema "http://json-schema.org/draft/2019-09/schema#"; Ajv registers draft 2019-09 as
    // "https://json-schema.org/draft/2019-09/schema". Same draft, so the schema is still meta-validated.
    assert.match(String(schema.$schema), /draft\/2019-09\/schema/);
    schema.$schema = 'https://json-schema.org/draft/2019-09/schema';
    const ajv = new Ajv2019({ allErrors: true, allowUnionTypes: true });
    addFormats(ajv);
    // The schema still carries draft-04 style `"id": "#/properties/..."` annotations; Ajv rejects the keyword `id`
    // outright, so register it as a plain string annotation (it carries no validation and is never a $ref target).
    ajv.removeKeyword('id');
    ajv.addKeyword({ keyword: 'id', schemaType: 'string' });
    // Formats the Compose specification defines itself.
    ajv.addFormat('duration', GO_DURATION);
    ajv.addFormat('ports', { type: 'string', validate: (s: string) => COMPOSE_PORTS.test(s) });
    ajv.addFormat('expose', { type: 'string', validate: (s: string) => COMPOSE_EXPOSE.test(s) });
    ajv.addFormat('subnet_ip_address', {
      type: 'string',
      validate: (s: string) => /^[0-9.]+\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/.test(s),
    });
    composeValidator = ajv.compile(schema);
  }
  const valid = composeValidator(doc) as boolean;
  return { valid, errors: formatErrors(composeValidator.errors) };
}

/**
 * Compose's variable interpolation over every string value, with no variable set, as `docker compose config` would
 * do with an empty environment: `${VAR:-default}`/`${VAR-default}` take the default, `$$` is a literal `$`.
 */
function interpolate(node: unknown): unknown {
  if (typeof node === 'string') {
    return node.replace(
      /\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
      (_m, dollar: string | undefined, name: string | undefined, op: string | undefined, arg: string | undefined) => {
        if (dollar) return '$';
        if (op === ':?' || op === '?') assert.fail(`\${${name}${op}${arg}} requires ${name} to be set`);
        if (op === ':-' || op === '-') return arg ?? '';
        return '';
      },
    );
  }
  if (Array.isArray(node)) return node.map(interpolate);
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolate(v)]));
  }
  return node;
}

function loadCompose(): Json {
  const text = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
  return interpolate(parse(text)) as Json;
}

// ---------------------------------------------------------------------------------------------------------------------
// Kubernetes
// ---------------------------------------------------------------------------------------------------------------------

interface Manifest {
  file: string;
  index: number;
  doc: Json;
}

function loadManifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(K8S_DIR).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    const docs = parseAllDocuments(readFileSync(path.join(K8S_DIR, file), 'utf8'));
    docs.forEach((d, index) => {
      assert.deepEqual(d.errors, [], `${file} #${index} is not valid YAML`);
      const doc = d.toJS() as Json | null;
      if (doc !== null) out.push({ file, index, doc });
    });
  }
  return out;
}

/** The schema file of an object in kubernetes-json-schema naming: `deployment-apps-v1.json`, `service-v1.json`. */
function schemaFileFor(doc: Json): string {
  const apiVersion = String(doc.apiVersion);
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const groupPart = group ? `-${group.split('.')[0]}` : '';
  return `${String(doc.kind).toLowerCase()}${groupPart}-${version}.json`;
}

class KubernetesValidator {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly keywords = new Set<string>();

  constructor(readonly version: string) {
    this.ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true });
    addFormats(this.ajv);
    const definitions = readSchema('kubernetes', `${version}-local-strict`, '_definitions.json');
    this.addKeywords(definitions);
    this.ajv.addSchema(definitions);
  }

  private addKeywords(schema: Json): void {
    for (const k of extensionKeywords(schema)) {
      if (this.keywords.has(k)) continue;
      this.keywords.add(k);
      this.ajv.addKeyword(k);
    }
  }

  validate(doc: Json): { valid: boolean; errors: string } {
    const file = schemaFileFor(doc);
    let validate = this.compiled.get(file);
    if (!validate) {
      const full = path.join(SCHEMAS, 'kubernetes', `${this.version}-local-strict`, file);
      assert.ok(
        existsSync(full) || !existsSync(path.dirname(full)),
        `no Kubernetes ${this.version} schema for ${doc.apiVersion} ${doc.kind} (${file})`,
      );
      const schema = readSchema('kubernetes', `${this.version}-local-strict`, file);
      this.addKeywords(schema);
      validate = this.ajv.compile(schema);
      this.compiled.set(file, validate);
    }
    const valid = validate(doc) as boolean;
    return { valid, errors: formatErrors(validate.errors) };
  }
}

const validators = new Map<string, KubernetesValidator>();
function k8sValidator(version: string): KubernetesValidator {
  let v = validators.get(version);
  if (!v) {
    v = new KubernetesValidator(version);
    validators.set(version, v);
  }
  return v;
}

function isKubernetesObject(m: Manifest): boolean {
  return m.doc.kind !== 'Kustomization';
}

function manifest(kind: string, name: string): Json {
  const found = loadManifests().filter((m) => m.doc.kind === kind && m.doc.metadata?.name === name);
  assert.equal(found.length, 1, `exactly one ${kind} ${name} in k8s/`);
  return found[0]!.doc;
}

function container(deployment: Json): Json {
  const containers = deployment.spec.template.spec.containers as Json[];
  assert.equal(containers.length, 1, `${deployment.metadata.name} has one container`);
  return containers[0]!;
}

/** The containerPort a probe's named or numbered port refers to. */
function probePort(c: Json, port: string | number): number {
  if (typeof port === 'number') return port;
  const named = (c.ports as Json[]).find((p) => p.name === port);
  assert.ok(named, `container ${c.name} has a port named ${port}`);
  return named.containerPort as number;
}

// ---------------------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------------------

describe('schemas are installed', () => {
  it(`has the Compose and Kubernetes schemas in .tools/schemas (else: ${INSTALL_HINT})`, () => {
    readSchema('compose', 'compose_spec.json');
    for (const version of K8S_VERSIONS) readSchema('kubernetes', `${version}-local-strict`, '_definitions.json');
  });
});

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema (after interpolating the defaults)', () => {
    const { valid, errors } = validateCompose(loadCompose());
    assert.ok(valid, `docker-compose.yml does not match the Compose schema:\n${errors}`);
  });

  it('the validator rejects a broken copy (unknown service key, wrong types, bad duration)', () => {
    const broken = structuredClone(loadCompose());
    broken.services.worker.restart_policy = 'always';
    broken.services.api.ports = [{ target: 'three thousand' }];
    broken.services.worker.healthcheck.interval = 'ten seconds';
    const { valid, errors } = validateCompose(broken);
    assert.equal(valid, false);
    assert.ok(composeValidator?.errors?.some((e) => e.keyword === 'additionalProperties'), errors);
    assert.ok(composeValidator?.errors?.some((e) => e.keyword === 'format' && e.params.format === 'duration'), errors);
    assert.ok(composeValidator?.errors?.some((e) => e.keyword === 'type'), errors);
  });

  it('has the services, with the worker scalable (no container_name, no host ports)', () => {
    const { services } = loadCompose();
    for (const name of ['postgresql', 'temporal', 'temporal-admin-tools', 'temporal-ui', 'api', 'worker', 'scripted-model']) {
      assert.ok(services[name], `service ${name}`);
    }
    for (const [name, svc] of Object.entries<Json>(services)) {
      assert.equal(svc.container_name, undefined, `${name} has a fixed container_name (breaks --scale / parallel projects)`);
    }
    assert.equal(services.worker.ports, undefined, 'worker publishes host ports (breaks --scale worker=3)');
    assert.equal(services.worker.scale, undefined);
    assert.deepEqual(services['scripted-model'].profiles, ['demo']);
    assert.deepEqual(services['temporal-ui'].ports, ['8080:8080']);
    assert.deepEqual(services.api.ports, ['3000:3000']);
  });

  it('starts the product after Temporal is healthy and the namespace and search attributes exist', () => {
    const { services } = loadCompose();
    for (const name of ['api', 'worker']) {
      assert.deepEqual(services[name].depends_on, {
        temporal: { condition: 'service_healthy' },
        'temporal-admin-tools': { condition: 'service_completed_successfully' },
      });
      assert.ok(services[name].healthcheck?.test, `${name} has a healthcheck`);
    }
    assert.deepEqual(services['temporal-admin-tools'].depends_on, { temporal: { condition: 'service_healthy' } });
    assert.deepEqual(services.temporal.depends_on, { 'temporal-schema': { condition: 'service_completed_successfully' } });
    assert.ok(String(services.temporal.healthcheck.test.join(' ')).includes('temporal operator cluster health'));
    assert.ok(String(services.postgresql.healthcheck.test.join(' ')).includes('pg_isready'));
  });

  it('runs the product image with the Dockerfile entry points, and the worker health check on its health port', () => {
    const { services } = loadCompose();
    const commands: Record<string, string[]> = {
      api: ['node', 'dist/src/api/server.js'],
      worker: ['node', 'dist/worker.js'],
      'scripted-model': ['node', 'dist/src/scripted-model/main.js'],
    };
    for (const [name, command] of Object.entries(commands)) {
      assert.equal(services[name].image, 'durable-handoff:latest', `${name} image`);
      assert.equal(services[name].build.context, '.', `${name} builds the Dockerfile`);
      assert.deepEqual(services[name].command, command, `${name} command`);
    }
    assert.deepEqual(dockerfile().CMD, commands.api);
    const env = services.worker.environment as Json;
    assert.ok(services.worker.healthcheck.test.join(' ').includes(`127.0.0.1:${env.WORKER_HEALTH_PORT}/readyz`));
    assert.ok(services.api.healthcheck.test.join(' ').includes(`127.0.0.1:${services.api.environment.PORT}/readyz`));
  });

  it('gives a stopping worker more time than WORKER_SHUTDOWN_GRACE_MS', () => {
    const { services } = loadCompose();
    const grace = Number(services.worker.environment.WORKER_SHUTDOWN_GRACE_MS);
    const m = /^(\d+)s$/.exec(String(services.worker.stop_grace_period));
    assert.ok(m, `stop_grace_period in seconds: ${services.worker.stop_grace_period}`);
    assert.ok(Number(m[1]) * 1000 > grace, `stop_grace_period ${m[1]}s <= WORKER_SHUTDOWN_GRACE_MS ${grace}`);
  });

  it('mounts the Temporal setup scripts that exist, and registers the four search attributes', () => {
    const { services } = loadCompose();
    for (const name of ['temporal-schema', 'temporal-admin-tools']) {
      const [host, target] = String(services[name].volumes[0]).split(':');
      assert.ok(existsSync(path.join(ROOT, host!)), `${name} mounts ${host}`);
      const script = String(services[name].command[0]);
      assert.ok(script.startsWith(`${target}/`), script);
      assert.ok(existsSync(path.join(ROOT, host!, script.slice(target!.length + 1))), `${script} exists`);
    }
    const script = readFileSync(path.join(ROOT, 'deploy', 'temporal', 'setup-namespace.sh'), 'utf8');
    const loop = /^for spec in (.+); do$/m.exec(script);
    assert.ok(loop, 'setup-namespace.sh has the search-attribute loop');
    assert.deepEqual(loop[1]!.split(/\s+/).sort(), [
      'ActiveAgent:Keyword',
      'ConversationStatus:Keyword',
      'PendingRequests:Int',
      'TeamName:Keyword',
    ]);
  });
});

/** The Dockerfile's runtime stage: its instructions by keyword (the last of each), continuation lines joined. */
function dockerfile(): {
  ARG: Record<string, string>;
  CMD: unknown;
  EXPOSE: string[];
  ENV: Record<string, string>;
  USER: string;
  stages: string[];
} {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args = Object.fromEntries(
    lines.filter((l) => /^ARG\s/i.test(l) && l.includes('=')).map((l) => l.slice(4).trim().split('=') as [string, string]),
  );
  const stages = lines.filter((l) => /^FROM\s/i.test(l));
  const lastFrom = lines.lastIndexOf(stages[stages.length - 1]!);
  const runtime = lines.slice(lastFrom);
  const get = (kw: string): string[] => runtime.filter((l) => l.toUpperCase().startsWith(`${kw} `)).map((l) => l.slice(kw.length + 1).trim());
  const env: Record<string, string> = {};
  for (const line of get('ENV')) for (const m of line.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) env[m[1]!] = m[2]!;
  return {
    ARG: args,
    CMD: JSON.parse(get('CMD').pop() ?? 'null'),
    EXPOSE: get('EXPOSE').flatMap((l) => l.split(/\s+/)),
    ENV: env,
    USER: get('USER').pop() ?? '',
    stages,
  };
}

describe('Dockerfile', () => {
  it('is multi-stage on node:22-bookworm-slim, non-root, with the bundle path and the ports', () => {
    const d = dockerfile();
    assert.deepEqual(d.stages, ['FROM ${NODE_IMAGE} AS build', 'FROM ${NODE_IMAGE} AS runtime']);
    assert.equal(d.ARG.NODE_IMAGE, 'node:22-bookworm-slim');
    assert.deepEqual(d.EXPOSE, ['3000', '8081', '9464']);
    assert.equal(d.ENV.NODE_ENV, 'production');
    assert.equal(d.ENV.WORKFLOW_BUNDLE_PATH, '/app/dist/workflow-bundle.js');
    assert.ok(d.USER && d.USER !== 'root' && d.USER !== '0', `USER ${d.USER}`);
  });
});

describe('k8s/', () => {
  for (const version of K8S_VERSIONS) {
    it(`every manifest is valid against the Kubernetes ${version} schemas (strict)`, () => {
      const validator = k8sValidator(version);
      const objects = loadManifests().filter(isKubernetesObject);
      assert.ok(objects.length >= 8, `found ${objects.length} objects`);
      for (const m of objects) {
        const { valid, errors } = validator.validate(m.doc);
        assert.ok(valid, `${m.file} #${m.index} (${m.doc.kind} ${m.doc.metadata?.name}) is invalid for ${version}:\n${errors}`);
      }
    });
  }

  it('the validator rejects broken copies (unknown field, wrong type, missing required field)', () => {
    const validator = k8sValidator(K8S_VERSIONS[0]!);
    const worker = manifest('Deployment', 'durable-handoff-worker');

    const unknownField = structuredClone(worker);
    unknownField.spec.template.spec.terminationGracePeriod = 60;
    assert.equal(validator.validate(unknownField).valid, false, 'unknown field accepted');

    const wrongType = structuredClone(worker);
    container(wrongType).ports[0].containerPort = '8081';
    assert.equal(validator.validate(wrongType).valid, false, 'string containerPort accepted');

    const missing = structuredClone(worker);
    delete missing.spec.selector;
    const result = validator.validate(missing);
    assert.equal(result.valid, false, 'Deployment without selector accepted');
    assert.match(result.errors, /selector/);

    const badHpa = structuredClone(manifest('HorizontalPodAutoscaler', 'durable-handoff-worker'));
    badHpa.spec.metrics[0].resource.target.averageUtilization = '70%';
    assert.equal(validator.validate(badHpa).valid, false, 'string averageUtilization accepted');
  });

  it('kustomization.yaml lists every manifest (except the secret example), and only existing files', () => {
    const kustomization = parse(readFileSync(path.join(K8S_DIR, 'kustomization.yaml'), 'utf8')) as Json;
    assert.equal(kustomization.apiVersion, 'kustomize.config.k8s.io/v1beta1');
    assert.equal(kustomization.kind, 'Kustomization');
    const files = readdirSync(K8S_DIR).filter((f) => /\.ya?ml$/.test(f) && !NOT_IN_KUSTOMIZATION.includes(f));
    assert.deepEqual([...(kustomization.resources as string[])].sort(), files.sort());
    for (const f of NOT_IN_KUSTOMIZATION) assert.ok(existsSync(path.join(K8S_DIR, f)), `${f} exists`);
    assert.equal(kustomization.namespace, manifest('Namespace', kustomization.namespace as string).metadata.name);
  });

  it('references the image durable-handoff:latest, overridable through kustomize images', () => {
    const kustomization = parse(readFileSync(path.join(K8S_DIR, 'kustomization.yaml'), 'utf8')) as Json;
    assert.deepEqual(kustomization.images, [{ name: 'durable-handoff', newName: 'durable-handoff', newTag: 'latest' }]);
    const deployments = loadManifests().filter((m) => m.doc.kind === 'Deployment');
    assert.equal(deployments.length, 2);
    for (const { doc } of deployments) assert.equal(container(doc).image, 'durable-handoff:latest');
  });

  it('gives the worker more termination grace than WORKER_SHUTDOWN_GRACE_MS', () => {
    const config = manifest('ConfigMap', 'durable-handoff-config').data as Record<string, string>;
    const worker = manifest('Deployment', 'durable-handoff-worker');
    const grace = Number(config.WORKER_SHUTDOWN_GRACE_MS);
    assert.ok(Number.isInteger(grace) && grace > 0, `WORKER_SHUTDOWN_GRACE_MS ${config.WORKER_SHUTDOWN_GRACE_MS}`);
    const seconds = worker.spec.template.spec.terminationGracePeriodSeconds as number;
    assert.ok(seconds * 1000 > grace, `terminationGracePeriodSeconds ${seconds} * 1000 <= ${grace}`);
  });

  it('probes and scrapes the worker on its configured health and metrics ports', () => {
    const config = manifest('ConfigMap', 'durable-handoff-config').data as Record<string, string>;
    const worker = manifest('Deployment', 'durable-handoff-worker');
    const c = container(worker);
    assert.deepEqual(c.command, ['node', 'dist/worker.js']);
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(probePort(c, c.readinessProbe.httpGet.port), Number(config.WORKER_HEALTH_PORT));
    assert.equal(probePort(c, c.livenessProbe.httpGet.port), Number(config.WORKER_HEALTH_PORT));
    const annotations = worker.spec.template.metadata.annotations as Record<string, string>;
    assert.equal(annotations['prometheus.io/scrape'], 'true');
    assert.equal(annotations['prometheus.io/path'], '/metrics');
    assert.equal(Number(annotations['prometheus.io/port']), Number(config.WORKER_METRICS_PORT));
    assert.ok((c.ports as Json[]).some((p) => p.containerPort === Number(config.WORKER_METRICS_PORT)));
    assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, 'resources');
  });

  it('probes and scrapes the API on PORT, and the Service targets it', () => {
    const config = manifest('ConfigMap', 'durable-handoff-config').data as Record<string, string>;
    const api = manifest('Deployment', 'durable-handoff-api');
    const c = container(api);
    assert.deepEqual(c.command, ['node', 'dist/src/api/server.js']);
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(probePort(c, c.readinessProbe.httpGet.port), Number(config.PORT));
    const annotations = api.spec.template.metadata.annotations as Record<string, string>;
    assert.equal(Number(annotations['prometheus.io/port']), Number(config.PORT));
    assert.equal(annotations['prometheus.io/path'], '/metrics');
    const service = manifest('Service', 'durable-handoff-api');
    assert.deepEqual(service.spec.selector, api.spec.selector.matchLabels);
    assert.equal(probePort(c, service.spec.ports[0].targetPort), Number(config.PORT));
  });

  it('wires the ConfigMap, the Secret, the HPA and the PDBs to the right objects', () => {
    const config = manifest('ConfigMap', 'durable-handoff-config');
    const secret = manifest('Secret', 'durable-handoff-secrets');
    for (const name of ['durable-handoff-api', 'durable-handoff-worker']) {
      const d = manifest('Deployment', name);
      assert.deepEqual(d.spec.selector.matchLabels, Object.fromEntries(
        Object.entries(d.spec.template.metadata.labels as Record<string, string>).filter(([k]) => k in d.spec.selector.matchLabels),
      ));
      assert.deepEqual(container(d).envFrom, [
        { configMapRef: { name: config.metadata.name } },
        { secretRef: { name: secret.metadata.name } },
      ]);
      const pdb = manifest('PodDisruptionBudget', name);
      assert.deepEqual(pdb.spec.selector.matchLabels, d.spec.selector.matchLabels);
    }
    const hpa = manifest('HorizontalPodAutoscaler', 'durable-handoff-worker');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'durable-handoff-worker' });
    assert.equal(hpa.spec.metrics[0].resource.name, 'cpu');
  });
});
