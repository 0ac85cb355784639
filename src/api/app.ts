/**
 * The Express app: `createApp(deps)` returns it; server.ts listens. Stateless: every request reads the
 * conversation from Temporal, so any API replica serves any conversation.
 */
import { randomUUID } from 'node:crypto';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { assertConversationId, type ConversationClient, type RestoreMode, type RunResult } from '../checkpoints/conversation-client';
import { ConversationError, ErrorCode } from '../checkpoints/errors';
import { MAX_ANSWER_CHARS } from '../domain/answers';
import type { CheckpointRecord } from '../workflows/handoff-conversation.definitions';
import { ApiError, errorHandler } from './errors';
import type { Logger } from './logger';
import type { ApiMetrics } from './metrics';

/** What the app needs. */
export interface AppDeps {
  conversations: ConversationClient;
  log: Logger;
  maxBodyBytes: number;
  /** Base URL of the Temporal Web UI, for links. */
  webUiUrl?: string;
  metrics?: ApiMetrics;
  /** Open SSE responses, so shutdown can close them with a retry hint. */
  sseStreams?: Set<Response>;
  /** How often SSE polls for new events. */
  ssePollMs?: number;
  /** Readiness check (Temporal reachable). */
  ready?: () => Promise<boolean>;
  /** Shutdown state: while closing, every response closes its connection; the signal ends waits for turns early. */
  lifecycle?: { closing: boolean; signal: AbortSignal; inflight: Set<Response> };
}

function bodyObject(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (body === undefined || body === null || (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0 && !req.is('application/json'))) {
    throw ApiError.invalid('body', 'expected a JSON object (send Content-Type: application/json)');
  }
  if (typeof body !== 'object' || Array.isArray(body)) throw ApiError.invalid('body', 'expected a JSON object');
  return body as Record<string, unknown>;
}

function allowOnly(body: Record<string, unknown>, fields: string[]): void {
  const extra = Object.keys(body).find((k) => !fields.includes(k));
  if (extra) throw ApiError.invalid(extra, `unknown field; allowed fields: ${fields.join(', ')}`);
}

function messageOf(body: Record<string, unknown>): string | string[] {
  const m = body.message;
  const tooLong = (x: unknown) => typeof x === 'string' && x.length > MAX_ANSWER_CHARS;
  if (tooLong(m) || (Array.isArray(m) && m.some(tooLong))) {
    throw new ApiError(413, ErrorCode.PAYLOAD_TOO_LARGE, `message: longer than ${MAX_ANSWER_CHARS} characters`);
  }
  if (typeof m === 'string' && m.trim() !== '') return m;
  if (Array.isArray(m) && m.length > 0 && m.every((x) => typeof x === 'string' && x.trim() !== '')) return m as string[];
  throw ApiError.invalid('message', 'expected a non-empty string or a non-empty list of non-empty strings');
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw ApiError.invalid(field, 'expected a non-empty string');
  return v;
}

function responsesOf(body: Record<string, unknown>, required: boolean): Record<string, unknown> | undefined {
  const r = body.responses;
  if (r === undefined && !required) return undefined;
  if (!r || typeof r !== 'object' || Array.isArray(r)) {
    throw ApiError.invalid('responses', 'expected an object mapping request ids to answers, e.g. { "r1": "yes" }');
  }
  if (Object.keys(r).length === 0) throw ApiError.invalid('responses', 'must answer at least one request');
  return r as Record<string, unknown>;
}

function conversationIdParam(req: Request): string {
  const id = req.params.id;
  try {
    assertConversationId(id);
  } catch {
    throw new ConversationError(ErrorCode.CONVERSATION_NOT_FOUND, `conversation ${String(id)} not found`);
  }
  return id;
}

/** Creates the app. */
export function createApp(deps: AppDeps): express.Express {
  const { conversations: c, log } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const webUiLink = (conversationId: string) =>
    deps.webUiUrl ? `${deps.webUiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(c.client.options.namespace)}/workflows/${encodeURIComponent(conversationId)}` : undefined;
  const links = (conversationId: string) => {
    const ui = webUiLink(conversationId);
    return ui ? { links: { webUi: ui } } : {};
  };
  const runBody = (r: RunResult) => ({ status: r.status, events: r.events, pendingRequests: r.pendingRequests });

  // Draining: no response keeps its connection alive, so pooled keep-alive clients move to another replica.
  if (deps.lifecycle) {
    const lc = deps.lifecycle;
    app.use((_req, res, next) => {
      if (lc.closing) res.setHeader('connection', 'close');
      lc.inflight.add(res);
      res.on('close', () => lc.inflight.delete(res));
      next();
    });
  }
  const untilSettled = (id: string, fromSeq: number) =>
    c.follow(id, fromSeq, deps.lifecycle ? { signal: deps.lifecycle.signal } : {});

  // Request id + structured access log.
  app.use((req, res, next) => {
    const requestId = (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id']) || randomUUID();
    res.setHeader('x-request-id', requestId);
    res.locals.requestId = requestId;
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      log({
        level: res.statusCode >= 500 ? 'error' : 'info',
        msg: 'request',
        requestId,
        method: req.method,
        path: req.originalUrl.split('?')[0],
        status: res.statusCode,
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        ...(req.params?.id ? { conversationId: req.params.id } : res.locals.conversationId ? { conversationId: res.locals.conversationId } : {}),
      });
    });
    next();
  });
  if (deps.metrics) app.use(deps.metrics.middleware);
  app.use(express.json({ limit: deps.maxBodyBytes, type: ['application/json', 'application/*+json'] }));

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', (async (_req, res) => {
    const ok = deps.ready ? await deps.ready() : true;
    if (!ok) throw new ApiError(503, ErrorCode.TEMPORAL_UNAVAILABLE, 'Temporal is unreachable');
    res.json({ ok: true });
  }) as RequestHandler);
  if (deps.metrics) app.get('/metrics', deps.metrics.handler);

  app.post('/v1/conversations', (async (req, res) => {
    const body = bodyObject(req);
    allowOnly(body, ['message', 'team', 'conversationId']);
    const message = messageOf(body);
    const team = optionalString(body, 'team');
    const conversationId = optionalString(body, 'conversationId');
    if (conversationId !== undefined) assertConversationId(conversationId);
    const started = await c.start({ message, ...(team ? { team } : {}), ...(conversationId ? { conversationId } : {}) });
    res.locals.conversationId = started.conversationId;
    const result = await c.collect(started.conversationId, untilSettled(started.conversationId, started.accept.fromSeq));
    res.status(201).json({ conversationId: started.conversationId, ...runBody(result), ...links(started.conversationId) });
  }) as RequestHandler);

  app.get('/v1/conversations', (async (req, res) => {
    const status = typeof req.query.status === 'string' ? req.query.status : undefined;
    const team = typeof req.query.team === 'string' ? req.query.team : undefined;
    const list = await listConversations(c, { status, team });
    res.json({ conversations: list.map((x) => ({ ...x, ...links(x.conversationId) })) });
  }) as RequestHandler);

  app.get('/v1/conversations/:id', (async (req, res) => {
    const id = conversationIdParam(req);
    const s = await c.state(id);
    res.json({
      conversationId: s.conversationId,
      team: s.team,
      status: s.status,
      ended: s.ended,
      activeAgent: s.activeAgent,
      pendingRequests: s.pendingRequests,
      messages: s.messages,
      lastSeq: s.lastSeq,
      lastCheckpointId: s.lastCheckpointId,
      lineage: s.lineage,
      ...links(id),
    });
  }) as RequestHandler);

  app.post('/v1/conversations/:id/responses', (async (req, res) => {
    const id = conversationIdParam(req);
    const body = bodyObject(req);
    allowOnly(body, ['responses', 'checkpointId']);
    const responses = responsesOf(body, true)!;
    const checkpointId = optionalString(body, 'checkpointId');
    if (checkpointId) {
      const result = await c.collectRestore(c.restore({ checkpointId, conversationId: id, responses }));
      res.json({ ...runBody(result), ...links(id) });
      return;
    }
    const accept = await c.respond(id, responses);
    const result = await c.collect(id, untilSettled(id, accept.fromSeq));
    res.json({ ...runBody(result), ...(accept.duplicates.length ? { duplicates: accept.duplicates } : {}), ...links(id) });
  }) as RequestHandler);

  app.get('/v1/conversations/:id/checkpoints', (async (req, res) => {
    const id = conversationIdParam(req);
    const list = await c.checkpoints(id);
    res.json({ checkpoints: list.map((l): CheckpointRecord & { abandoned: boolean } => ({ ...l.record, abandoned: l.abandoned })) });
  }) as RequestHandler);

  app.post('/v1/conversations/:id/restore', (async (req, res) => {
    const id = conversationIdParam(req);
    const body = bodyObject(req);
    allowOnly(body, ['checkpointId', 'responses', 'mode', 'forkConversationId']);
    const checkpointId = optionalString(body, 'checkpointId');
    if (!checkpointId) throw ApiError.invalid('checkpointId', 'required: the id of a checkpoint of this conversation');
    const mode = body.mode === undefined ? 'rewind' : body.mode;
    if (mode !== 'rewind' && mode !== 'fork') throw ApiError.invalid('mode', 'expected "rewind" or "fork"');
    const forkConversationId = optionalString(body, 'forkConversationId');
    if (forkConversationId !== undefined) {
      if (mode !== 'fork') throw ApiError.invalid('forkConversationId', 'only allowed with mode "fork"');
      assertConversationId(forkConversationId, 'forkConversationId');
    }
    const responses = responsesOf(body, false);
    const result = await c.collectRestore(c.restore({
      checkpointId,
      conversationId: id,
      mode: mode as RestoreMode,
      ...(responses ? { responses } : {}),
      ...(forkConversationId ? { forkConversationId } : {}),
    }));
    res.json({ conversationId: result.conversationId, ...runBody(result), ...links(result.conversationId) });
  }) as RequestHandler);

  app.get('/v1/conversations/:id/events', (async (req, res) => {
    const id = conversationIdParam(req);
    const header = req.headers['last-event-id'];
    const raw = typeof header === 'string' && header !== '' ? header : typeof req.query.after === 'string' ? req.query.after : '0';
    const after = Number(raw);
    if (!Number.isInteger(after) || after < 0) throw ApiError.invalid(typeof header === 'string' ? 'Last-Event-ID' : 'after', 'expected a non-negative integer event seq');
    // Watch for the client leaving before any await: a close that fires while we wait must still stop the stream.
    let gone = false;
    req.on('close', () => (gone = true));
    await c.state(id); // 404 before the stream starts
    if (gone || req.destroyed) return;
    await streamEvents(c, id, after, req, res, deps);
  }) as RequestHandler);

  app.use((req, _res, next) => next(new ApiError(404, ErrorCode.CONVERSATION_NOT_FOUND, `no route ${req.method} ${req.path}`)));
  app.use(errorHandler((f) => log({ msg: 'error', ...f })));
  return app;
}

async function streamEvents(c: ConversationClient, id: string, after: number, req: Request, res: Response, deps: AppDeps): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 2000\n\n');
  deps.sseStreams?.add(res);
  deps.metrics?.sseOpened();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    deps.sseStreams?.delete(res);
    deps.metrics?.sseClosed();
  };
  req.on('close', close);
  res.on('close', close);
  res.on('error', close);
  if (req.destroyed || res.destroyed) close();
  let cursor = after;
  let lastWrite = Date.now();
  const poll = deps.ssePollMs ?? 250;
  try {
    while (!closed) {
      const page = await c.readEvents(id, cursor);
      for (const e of page.events) {
        res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
        cursor = e.seq;
        lastWrite = Date.now();
      }
      if (page.ended && page.events.length === 0) {
        res.write('event: end\ndata: {"ended":true}\n\n');
        break;
      }
      if (Date.now() - lastWrite > 15_000) {
        res.write(': keep-alive\n\n');
        lastWrite = Date.now();
      }
      await new Promise((r) => setTimeout(r, poll));
    }
  } catch (err) {
    if (!closed) res.write(`event: error\ndata: ${JSON.stringify({ message: (err as Error).message })}\n\n`);
  } finally {
    close();
    res.end();
  }
}

/** Conversations through Temporal visibility (custom search attributes), newest first. */
async function listConversations(c: ConversationClient, filter: { status?: string; team?: string }) {
  const clauses = [`WorkflowType = 'handoffConversation'`];
  const quote = (v: string, field: string) => {
    if (!/^[A-Za-z0-9_.-]{1,128}$/.test(v)) throw ApiError.invalid(field, 'expected letters, digits, ".", "_" or "-"');
    return `'${v}'`;
  };
  if (filter.status) clauses.push(`ConversationStatus = ${quote(filter.status, 'status')}`);
  if (filter.team) clauses.push(`TeamName = ${quote(filter.team, 'team')}`);
  if (!filter.status) clauses.push(`ExecutionStatus = 'Running'`);
  const out: { conversationId: string; status: string | null; team: string | null; activeAgent: string | null; pendingRequests: number | null; startTime: string }[] = [];
  await c.call(undefined, async () => {
    for await (const wf of c.client.workflow.list({ query: clauses.join(' AND '), pageSize: 100 })) {
      const sa = wf.searchAttributes as Record<string, unknown[] | undefined>;
      out.push({
        conversationId: wf.workflowId,
        status: (sa.ConversationStatus?.[0] as string | undefined) ?? null,
        team: (sa.TeamName?.[0] as string | undefined) ?? null,
        activeAgent: (sa.ActiveAgent?.[0] as string | undefined) ?? null,
        pendingRequests: (sa.PendingRequests?.[0] as number | undefined) ?? null,
        startTime: wf.startTime.toISOString(),
      });
      if (out.length >= 200) break;
    }
  });
  return out;
}
