/**
 * The API process: config → Temporal client → app → listen. On SIGTERM/SIGINT it stops accepting, closes SSE
 * streams with a retry hint, lets in-flight requests finish, then closes the Temporal connection.
 */
import type { Server } from 'node:http';
import type { Response } from 'express';
import type { Client } from '@temporalio/client';
import { loadConfig, loadDotEnv, type Config } from '../config';
import { ConversationClient } from '../checkpoints/conversation-client';
import { connectClient } from '../runtime/temporal-connection';
import { loadTeams, teamDirs } from '../team-catalog';
import { DEFAULT_SETTINGS, type ConversationSettings } from '../workflows/handoff-conversation.definitions';
import { createApp } from './app';
import { createLogger, type Logger } from './logger';
import { createApiMetrics } from './metrics';

/** Conversation settings from config. */
export function settingsOf(cfg: Config): ConversationSettings {
  return {
    ...DEFAULT_SETTINGS,
    maxHandoffs: cfg.MAX_HANDOFFS_WITHOUT_USER,
    continueAsNewAfterEvents: cfg.CONTINUE_AS_NEW_AFTER_EVENTS,
    modelTimeoutMs: cfg.MODEL_TIMEOUT_MS,
  };
}

/** How long in-flight requests may keep waiting for their turn after SIGTERM before answering with progress. */
const SHUTDOWN_WAIT_MS = 10_000;
/** When remaining connections are cut (below Kubernetes' 30 s termination grace period). */
const SHUTDOWN_FORCE_MS = 20_000;

/** A running API server. */
export interface ApiServer {
  port: number;
  url: string;
  conversations: ConversationClient;
  /** Graceful stop: no new connections, SSE closed with a retry hint, in-flight requests finish. */
  close(): Promise<void>;
}

/** Starts the API on cfg.HOST:cfg.PORT (0 = any free port). */
export async function startApiServer(cfg: Config, opts: { client?: Client; log?: Logger; webUiUrl?: string } = {}): Promise<ApiServer> {
  const log = opts.log ?? createLogger(cfg.LOG_LEVEL);
  const client = opts.client ?? (await connectClient(cfg));
  const conversations = new ConversationClient({
    client,
    taskQueue: cfg.TEMPORAL_TASK_QUEUE,
    teams: loadTeams(teamDirs(cfg.TEAMS_DIR)),
    defaultTeam: cfg.DEFAULT_TEAM,
    settings: settingsOf(cfg),
    temporalTimeoutMs: cfg.API_TEMPORAL_TIMEOUT_MS,
    turnTimeoutMs: cfg.API_TURN_TIMEOUT_MS,
  });
  const sseStreams = new Set<Response>();
  const shutdown = new AbortController();
  const lifecycle = { closing: false, signal: shutdown.signal, inflight: new Set<Response>() };
  const webUiUrl = opts.webUiUrl ?? cfg.TEMPORAL_UI_URL;
  const app = createApp({
    conversations,
    log,
    maxBodyBytes: cfg.API_MAX_BODY_BYTES,
    ...(webUiUrl ? { webUiUrl } : {}),
    metrics: createApiMetrics(),
    sseStreams,
    lifecycle,
    ready: async () => {
      try {
        await client.withDeadline(Date.now() + 2_000, () => client.workflowService.getSystemInfo({}));
        return true;
      } catch {
        return false;
      }
    },
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(cfg.PORT, cfg.HOST, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : cfg.PORT;
  let closing: Promise<void> | null = null;
  return {
    port,
    url: `http://${cfg.HOST}:${port}`,
    conversations,
    close: () => {
      closing ??= (async () => {
        lifecycle.closing = true;
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        // Responses still being prepared close their connection too (keep-alive clients must not keep us busy).
        for (const res of lifecycle.inflight) if (!res.headersSent) res.setHeader('connection', 'close');
        for (const res of sseStreams) {
          res.write('event: shutdown\nretry: 1000\ndata: {"reconnect":true}\n\n');
          res.end();
        }
        server.closeIdleConnections();
        // Requests waiting for a long turn answer with the progress so far (the turn goes on in Temporal).
        const early = setTimeout(() => shutdown.abort(), SHUTDOWN_WAIT_MS);
        const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_FORCE_MS);
        await done;
        clearTimeout(early);
        clearTimeout(force);
        if (!opts.client) await client.connection.close();
      })();
      return closing;
    },
  };
}

async function main(): Promise<void> {
  loadDotEnv();
  const cfg = loadConfig();
  const log = createLogger(cfg.LOG_LEVEL);
  const api = await startApiServer(cfg, { log });
  log({ msg: `API listening on ${api.url}`, port: api.port });
  const stop = (signal: string) => {
    log({ msg: `received ${signal}; finishing in-flight requests` });
    api.close().then(
      () => process.exit(0),
      (err) => {
        log({ level: 'error', msg: 'shutdown failed', error: String(err) });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
