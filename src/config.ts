import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The only reader of `process.env`. Every variable the product understands is declared here, parsed once with
 * zod, and frozen; everything else receives the resulting {@link Config} as a parameter.
 * `.env.example`, the README and docker-compose.yml list the same variables (a unit test checks this).
 */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const port = z.coerce.number().int().min(0).max(65535);
const ms = z.coerce.number().int().positive();

/** Every environment variable, with its default. Keys are the variable names. */
export const ENV_SCHEMA = z.object({
  // Temporal connection (Temporal's own env conventions).
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('handoff-conversations'),
  TEMPORAL_API_KEY: z.string().optional(),
  TEMPORAL_TLS: bool.default('false'),
  TEMPORAL_TLS_CLIENT_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: z.string().optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  TEMPORAL_UI_URL: z.string().url().optional(),
  // Embedded dev server (npm start).
  TEMPORAL_CLI_PATH: z.string().optional(),
  TEMPORAL_DEV_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  DATA_DIR: z.string().min(1).default('.data'),
  // Model access.
  OPENAI_API_KEY: z.string().optional(),
  OPENAI_BASE_URL: z.string().url().optional(),
  OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  SCRIPTED_MODEL_PORT: port.default(4010),
  MODEL_TIMEOUT_MS: ms.default(60_000),
  // Teams.
  TEAMS_DIR: z.string().optional(),
  DEFAULT_TEAM: z.string().min(1).default('customer-support'),
  // API process.
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(3000),
  API_TEMPORAL_TIMEOUT_MS: ms.default(10_000),
  API_TURN_TIMEOUT_MS: ms.default(120_000),
  API_MAX_BODY_BYTES: z.coerce.number().int().positive().default(1_048_576),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  // Worker process.
  WORKER_HEALTH_PORT: port.default(8081),
  WORKER_METRICS_PORT: port.default(9464),
  WORKER_SHUTDOWN_GRACE_MS: ms.default(30_000),
  WORKER_BUILD_ID: z.string().min(1).default('dev'),
  WORKFLOW_BUNDLE_PATH: z.string().optional(),
  // Conversation tuning.
  MAX_HANDOFFS_WITHOUT_USER: z.coerce.number().int().positive().default(8),
  CONTINUE_AS_NEW_AFTER_EVENTS: z.coerce.number().int().positive().default(4000),
});

export type EnvInput = z.input<typeof ENV_SCHEMA>;
export type Config = Readonly<z.output<typeof ENV_SCHEMA>>;

/** The names of every variable {@link loadConfig} reads. */
export const ENV_VARIABLES = Object.keys(ENV_SCHEMA.shape) as (keyof EnvInput)[];

/** A configuration problem, naming the variable and what it should be. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses the given environment (default `process.env`) once; throws {@link ConfigError} naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const picked: Record<string, string> = {};
  for (const key of ENV_VARIABLES) {
    const value = env[key];
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const parsed = ENV_SCHEMA.safeParse(picked);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? 'environment');
    throw new ConfigError(`${name}: ${issue?.message ?? 'invalid'} (got ${JSON.stringify(env[name] ?? '')})`);
  }
  const cfg = parsed.data;
  const tlsFiles = [cfg.TEMPORAL_TLS_CLIENT_CERT_PATH, cfg.TEMPORAL_TLS_CLIENT_KEY_PATH];
  if (tlsFiles.filter(Boolean).length === 1) {
    throw new ConfigError(
      'TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH: set both for mTLS, or neither',
    );
  }
  return Object.freeze(cfg);
}

/** Whether the scripted model stands in for a real one (no `OPENAI_API_KEY`). */
export function usesScriptedModel(cfg: Config): boolean {
  return !cfg.OPENAI_API_KEY;
}

/**
 * Reads `.env` (if present) into `process.env` without overriding variables that are already set, so
 * `npm start`, the worker and the API honour the same file docker compose reads. Returns the keys it set.
 */
export function loadDotEnv(file = '.env', env: Record<string, string | undefined> = process.env): string[] {
  if (!existsSync(file)) return [];
  const set: string[] = [];
  for (const raw of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!;
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    else value = value.replace(/\s+#.*$/, '');
    if (env[m[1]!] === undefined) {
      env[m[1]!] = value;
      set.push(m[1]!);
    }
  }
  return set;
}
