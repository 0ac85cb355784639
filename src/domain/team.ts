/**
 * Team specs: the agents of a conversation, their routes and rules. Team files are YAML or JSON (`v: 1`),
 * validated here with errors naming the field. The resolved team (with tool declarations and the graph hash)
 * is passed whole to the workflow, so a running conversation keeps the team it started with.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { TOOL_SPECS, type ToolSpec } from './tool-specs';
import { handoffToolName } from './transcript';

/** Team file format version. v1: the first format. */
export const TEAM_SPEC_VERSION = 1 as const;

/** The framework's default autonomous prompt. */
export const DEFAULT_AUTONOMOUS_PROMPT = 'User did not respond. Continue assisting autonomously.';

const agentName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,47}$/, 'must start with a letter and use only letters, digits, "_" or "-" (max 48)');

const agentSchema = z
  .object({
    name: agentName,
    description: z.string().min(1, 'must not be empty'),
    instructions: z.string().min(1, 'must not be empty'),
    model: z.string().min(1).optional(),
    tools: z.array(z.string()).default([]),
  })
  .strict();

/** Schema of a team file. */
export const teamFileSchema = z
  .object({
    v: z.literal(TEAM_SPEC_VERSION, { errorMap: () => ({ message: `must be ${TEAM_SPEC_VERSION}` }) }),
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and "-"'),
    description: z.string().optional(),
    startAgent: agentName,
    agents: z.array(agentSchema).min(1, 'must list at least one agent'),
    handoffs: z.record(z.string(), z.array(z.string())).optional(),
    autonomous: z
      .object({
        agents: z.array(z.string()).optional(),
        prompt: z.string().min(1).default(DEFAULT_AUTONOMOUS_PROMPT),
        turnLimit: z.number().int().min(1).max(1000).default(50),
      })
      .strict()
      .optional(),
    termination: z
      .object({
        maxUserMessages: z.number().int().min(1).optional(),
        stopPhrases: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .optional(),
    maxHandoffs: z.number().int().min(1).max(100).optional(),
  })
  .strict();

/** A validated team file. */
export type TeamSpec = z.output<typeof teamFileSchema>;

/** A team ready to run: the spec plus its tool declarations and graph hash. Plain JSON. */
export interface ResolvedTeam {
  v: typeof TEAM_SPEC_VERSION;
  name: string;
  description?: string;
  startAgent: string;
  agents: { name: string; description: string; instructions: string; model?: string; tools: string[] }[];
  /** Allowed handoff targets per agent (always explicit here; omitted in the file means full mesh). */
  routes: Record<string, string[]>;
  autonomous?: { agents: string[]; prompt: string; turnLimit: number };
  termination?: { maxUserMessages?: number; stopPhrases?: string[] };
  maxHandoffs?: number;
  tools: Record<string, ToolSpec>;
  graphSignatureHash: string;
}

/** A team file that does not validate; `field` is the path, e.g. `agents[1].tools[0]`. */
export class TeamSpecError extends Error {
  override readonly name = 'TeamSpecError';
  constructor(
    readonly source: string,
    readonly field: string,
    detail: string,
  ) {
    super(`${source}: ${field}: ${detail}`);
  }
}

function pathToField(path: (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') || '(root)';
}

/** Validates raw team data (parsed YAML/JSON) and resolves it; throws {@link TeamSpecError} naming the field. */
export function resolveTeam(raw: unknown, source = 'team', tools: Readonly<Record<string, ToolSpec>> = TOOL_SPECS): ResolvedTeam {
  const parsed = teamFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TeamSpecError(source, pathToField(issue.path), issue.message);
  }
  const spec = parsed.data;
  const names = spec.agents.map((a) => a.name);
  const seen = new Set<string>();
  const seenTools = new Set<string>();
  spec.agents.forEach((a, i) => {
    if (seen.has(a.name)) throw new TeamSpecError(source, `agents[${i}].name`, `duplicate agent name "${a.name}"`);
    seen.add(a.name);
    const tool = handoffToolName(a.name);
    if (seenTools.has(tool)) throw new TeamSpecError(source, `agents[${i}].name`, `"${a.name}" collides with another agent's handoff tool name`);
    seenTools.add(tool);
    a.tools.forEach((t, j) => {
      if (!tools[t]) {
        throw new TeamSpecError(source, `agents[${i}].tools[${j}]`, `unknown tool "${t}"; known tools: ${Object.keys(tools).join(', ')}`);
      }
    });
  });
  if (!seen.has(spec.startAgent)) {
    throw new TeamSpecError(source, 'startAgent', `"${spec.startAgent}" is not one of the agents (${names.join(', ')})`);
  }
  const routes: Record<string, string[]> = {};
  if (spec.handoffs) {
    for (const n of names) routes[n] = [];
    for (const [src, targets] of Object.entries(spec.handoffs)) {
      if (!seen.has(src)) throw new TeamSpecError(source, `handoffs.${src}`, `"${src}" is not one of the agents (${names.join(', ')})`);
      targets.forEach((t, j) => {
        if (!seen.has(t)) throw new TeamSpecError(source, `handoffs.${src}[${j}]`, `"${t}" is not one of the agents (${names.join(', ')})`);
        if (t === src) throw new TeamSpecError(source, `handoffs.${src}[${j}]`, 'an agent cannot hand off to itself');
      });
      routes[src] = [...new Set(targets)];
    }
  } else {
    for (const n of names) routes[n] = names.filter((m) => m !== n);
  }
  let autonomous: ResolvedTeam['autonomous'];
  if (spec.autonomous) {
    const agents = spec.autonomous.agents ?? names;
    agents.forEach((a, j) => {
      if (!seen.has(a)) throw new TeamSpecError(source, `autonomous.agents[${j}]`, `"${a}" is not one of the agents`);
    });
    autonomous = { agents, prompt: spec.autonomous.prompt, turnLimit: spec.autonomous.turnLimit };
  }
  const usedTools: Record<string, ToolSpec> = {};
  for (const a of spec.agents) for (const t of a.tools) usedTools[t] = tools[t]!;
  const resolved: ResolvedTeam = {
    v: TEAM_SPEC_VERSION,
    name: spec.name,
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    startAgent: spec.startAgent,
    agents: spec.agents.map((a) => ({ ...a })),
    routes,
    ...(autonomous ? { autonomous } : {}),
    ...(spec.termination ? { termination: spec.termination } : {}),
    ...(spec.maxHandoffs !== undefined ? { maxHandoffs: spec.maxHandoffs } : {}),
    tools: usedTools,
    graphSignatureHash: graphSignatureHash(spec.startAgent, names, routes),
  };
  return resolved;
}

/**
 * SHA-256 over the canonical JSON of start agent, sorted agent names and sorted routes. Instructions, models
 * and tools do not change it; agents, the start agent and routes do.
 */
export function graphSignatureHash(startAgent: string, agents: readonly string[], routes: Record<string, string[]>): string {
  const canonical = JSON.stringify({
    start: startAgent,
    agents: [...agents].sort(),
    routes: Object.keys(routes)
      .sort()
      .map((k) => [k, [...(routes[k] ?? [])].sort()]),
  });
  return createHash('sha256').update(canonical).digest('hex');
}
