/**
 * Loads team files (YAML or JSON) from the bundled `teams/` folder and from `TEAMS_DIR`, validating each one.
 * A later folder's team replaces an earlier one of the same name.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { resolveTeam, TeamSpecError, type ResolvedTeam } from './domain/team';

/** The bundled teams folder. */
export const BUNDLED_TEAMS_DIR = path.join(__dirname, '..', 'teams');

/** Every valid team by name; a file that does not validate throws {@link TeamSpecError} naming the file and field. */
export function loadTeams(dirs: readonly string[]): Map<string, ResolvedTeam> {
  const teams = new Map<string, ResolvedTeam>();
  for (const dir of dirs) {
    if (!existsSync(dir)) throw new TeamSpecError(dir, 'TEAMS_DIR', 'folder does not exist');
    for (const file of readdirSync(dir).sort()) {
      if (!/\.(ya?ml|json)$/i.test(file)) continue;
      const full = path.join(dir, file);
      let raw: unknown;
      try {
        const text = readFileSync(full, 'utf8');
        raw = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
      } catch (err) {
        throw new TeamSpecError(full, '(file)', `cannot parse: ${(err as Error).message}`);
      }
      const team = resolveTeam(raw, full);
      teams.set(team.name, team);
    }
  }
  return teams;
}

/** The team folders for a config: bundled first, then `TEAMS_DIR`. */
export function teamDirs(teamsDir: string | undefined): string[] {
  return teamsDir ? [BUNDLED_TEAMS_DIR, path.resolve(teamsDir)] : [BUNDLED_TEAMS_DIR];
}
