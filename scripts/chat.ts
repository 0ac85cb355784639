/**
 * `npm run chat`: talk to a team in the terminal through the HTTP API (start it with `npm start`).
 *
 *   npm run chat                      start a new conversation (default team)
 *   npm run chat -- --team <name>     start one with another team
 *   npm run chat -- <conversationId>  resume a conversation (also after quitting or a restart)
 *   npm run chat -- --api <url>       talk to another API (default http://HOST:PORT from the environment)
 *
 * In the chat: type your answer; /quit leaves (the conversation keeps waiting), /end ends it, /id shows its id,
 * /checkpoints lists checkpoints, /restore <checkpointId> rewinds to one.
 */
import readline from 'node:readline/promises';
import { stdin, stdout } from 'node:process';
import { loadConfig, loadDotEnv } from '../src/config';

interface Pending {
  requestId: string;
  requestType: 'HandoffAgentUserRequest' | 'FunctionApprovalRequest';
  sourceExecutorId: string;
  data: { agentResponse?: { agent: string; text: string }; tool?: string; arguments?: Record<string, unknown> };
}

interface Turn {
  status: string;
  events: { type: string; [k: string]: unknown }[];
  pendingRequests: Pending[];
  conversationId?: string;
}

const color = (code: number, s: string) => (stdout.isTTY ? `\x1b[${code}m${s}\x1b[0m` : s);
const dim = (s: string) => color(2, s);
const bold = (s: string) => color(1, s);

function parseArgs(argv: string[]): { api: string | null; team: string | null; resume: string | null } {
  let api: string | null = null;
  let team: string | null = null;
  let resume: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--api') api = argv[++i] ?? null;
    else if (a === '--team') team = argv[++i] ?? null;
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run chat -- [conversationId] [--team <name>] [--api <url>]');
      process.exit(0);
    } else if (!a.startsWith('--')) resume = a;
    else throw new Error(`unknown option ${a}`);
  }
  return { api, team, resume };
}

async function call(api: string, method: string, path: string, body?: unknown): Promise<any> {
  let res: Response;
  try {
    res = await fetch(`${api}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new Error(`cannot reach the API at ${api}; is \`npm start\` running?`);
  }
  const json = (await res.json().catch(() => ({}))) as any;
  if (!res.ok) throw new Error(`${json?.error?.code ?? res.status}: ${json?.error?.message ?? res.statusText}`);
  return json;
}

function show(turn: Turn): void {
  for (const e of turn.events) {
    if (e.type === 'handoff_sent') console.log(dim(`  ↪ ${String(e.source)} handed the conversation to ${String(e.target)}`));
    if (e.type === 'output') console.log(`${bold(String(e.author))}: ${String(e.text)}`);
    if (e.type === 'failed') {
      const d = e.details as { errorType: string; message: string };
      console.log(color(31, `  ✖ the turn failed (${d.errorType}): ${d.message}`));
      console.log(dim('    restore the last checkpoint to retry: /checkpoints, then /restore <id>'));
    }
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  loadDotEnv();
  const cfg = loadConfig();
  const api = (args.api ?? `http://${cfg.HOST}:${cfg.PORT}`).replace(/\/$/, '');
  const rl = readline.createInterface({ input: stdin, output: stdout, terminal: stdout.isTTY });
  const lines = rl[Symbol.asyncIterator]();
  const ask = async (prompt: string): Promise<string | null> => {
    stdout.write(prompt);
    const next = await lines.next();
    if (next.done) return null;
    if (!stdout.isTTY) stdout.write(`${next.value}\n`);
    return next.value;
  };

  let id: string;
  let turn: Turn;
  if (args.resume) {
    const view = await call(api, 'GET', `/v1/conversations/${encodeURIComponent(args.resume)}`);
    id = view.conversationId;
    console.log(dim(`Resuming ${id} (team ${view.team}, status ${view.status})`));
    for (const m of view.messages as { author: string; text: string }[]) console.log(`${m.author === 'user' ? 'you' : bold(m.author)}: ${m.text}`);
    turn = { status: view.status, events: [], pendingRequests: view.pendingRequests };
    if (view.ended) {
      console.log(dim('This conversation has ended. Restore a checkpoint to continue it: /checkpoints'));
    }
  } else {
    console.log(dim(`Connected to ${api}. Type /quit to leave, /end to end the conversation.`));
    const first = await ask('you: ');
    if (first === null || first.trim() === '' || first.trim() === '/quit') return void rl.close();
    turn = await call(api, 'POST', '/v1/conversations', { message: first, ...(args.team ? { team: args.team } : {}) });
    id = turn.conversationId!;
    console.log(dim(`(conversation ${id}; resume later with: npm run chat -- ${id})`));
    show(turn);
  }

  for (;;) {
    const pending = turn.pendingRequests[0];
    if (!pending) {
      console.log(dim(`The conversation is ${turn.status === 'FAILED' ? 'failed' : 'over'} (status ${turn.status}).`));
      const cmd = await ask('> ');
      if (cmd === null || cmd.trim() === '/quit' || cmd.trim() === '') break;
      if (!(await command(cmd.trim()))) console.log(dim('Nothing is pending. Commands: /checkpoints, /restore <id>, /quit'));
      continue;
    }
    let responses: Record<string, unknown>;
    if (pending.requestType === 'FunctionApprovalRequest') {
      console.log(color(33, `  ? ${pending.sourceExecutorId} wants to run ${pending.data.tool}(${JSON.stringify(pending.data.arguments)})`));
      const answer = await ask('approve? [y/n] ');
      if (answer === null || answer.trim() === '/quit') break;
      if (await command(answer.trim())) continue;
      const approved = /^y(es)?$/i.test(answer.trim());
      const reason = approved ? null : await ask('reason (optional): ');
      responses = { [pending.requestId]: { approved, ...(reason ? { reason } : {}) } };
    } else {
      const answer = await ask('you: ');
      if (answer === null || answer.trim() === '/quit') break;
      if (await command(answer.trim())) continue;
      if (answer.trim() === '/end') responses = { [pending.requestId]: [] };
      else if (answer.trim() === '') continue;
      else responses = { [pending.requestId]: answer };
    }
    try {
      turn = await call(api, 'POST', `/v1/conversations/${encodeURIComponent(id)}/responses`, { responses });
      show(turn);
    } catch (err) {
      console.log(color(31, `  ${(err as Error).message}`));
      turn = { ...turn, ...(await call(api, 'GET', `/v1/conversations/${encodeURIComponent(id)}`)), events: [] };
    }
  }
  console.log(dim(`Left the conversation. Resume with: npm run chat -- ${id}`));
  rl.close();

  async function command(text: string): Promise<boolean> {
    if (text === '/id') {
      console.log(id);
      return true;
    }
    if (text === '/checkpoints') {
      const list = await call(api, 'GET', `/v1/conversations/${encodeURIComponent(id)}/checkpoints`);
      for (const c of list.checkpoints as { checkpointId: string; kind: string; activeAgent: string; pendingRequests: unknown[]; timestamp: string }[]) {
        console.log(dim(`  ${c.checkpointId}  ${c.kind.padEnd(9)} agent=${c.activeAgent} pending=${c.pendingRequests.length} ${c.timestamp}`));
      }
      return true;
    }
    const restore = /^\/restore\s+(\S+)$/.exec(text);
    if (restore) {
      try {
        turn = await call(api, 'POST', `/v1/conversations/${encodeURIComponent(id)}/restore`, { checkpointId: restore[1] });
        console.log(dim(`  restored ${restore[1]}`));
        show(turn);
      } catch (err) {
        console.log(color(31, `  ${(err as Error).message}`));
      }
      return true;
    }
    return false;
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
