/**
 * User settings in $HAPI_HOME/settings.json: agent commands and allowed workspace roots.
 *
 *   { "agents": { "<name>": { "command": "...", "args": ["..."], "promptMode": "argument" | "typed" } },
 *     "workspaceRoots": ["..."] }
 *
 * Read on every use (it is a small file) so an edit applies to the next spawn without a
 * runner restart. A missing file is an empty configuration; a malformed one is a ConfigError
 * that names the file and the bad field, because silently ignoring a person's configuration
 * would spawn the wrong agent.
 */
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { readJsonFile } from '../../shared/atomic-file.js';
import { ConfigError } from '../../shared/errors.js';

/** How to run one agent: the executable (a name looked up on PATH, or a path) and fixed arguments. */
export interface AgentSetting {
  command?: string;
  args?: string[];
  /** How a spawn's prompt reaches the agent (agents.ts PromptMode); unset: the built-in default. */
  promptMode?: PromptMode;
}

/**
 * How a spawn's prompt reaches an agent: `argument` appends it to the agent's arguments (claude
 * and codex take an initial prompt that way); `typed` types it into the agent's terminal once
 * its output has settled (src/session/initial-prompt.ts).
 */
export type PromptMode = 'argument' | 'typed';

export interface HapiSettings {
  agents: Record<string, AgentSetting>;
  /** Absolute paths; `~` expanded. Empty means unrestricted. */
  workspaceRoots: string[];
}

/** Reads and validates settings.json. Missing file -> empty settings; malformed -> ConfigError. */
export function readSettings(file: string): HapiSettings {
  const read = readJsonFile<unknown>(file);
  if (!read.ok) {
    if (read.reason === 'missing') return { agents: {}, workspaceRoots: [] };
    throw new ConfigError(`settings file ${file} is not valid JSON: ${read.error ?? 'unreadable'}`);
  }
  return parseSettings(read.value, file);
}

/** Validates the parsed JSON of settings.json. Exported for tests. */
export function parseSettings(value: unknown, file: string): HapiSettings {
  if (!isRecord(value)) throw new ConfigError(`settings file ${file} must contain a JSON object`);
  const agents: Record<string, AgentSetting> = {};
  if (value.agents !== undefined) {
    if (!isRecord(value.agents)) throw new ConfigError(`settings file ${file}: "agents" must be an object`);
    for (const [name, raw] of Object.entries(value.agents)) {
      const where = `settings file ${file}: agents.${name}`;
      if (!isRecord(raw)) throw new ConfigError(`${where} must be an object like {"command": "...", "args": []}`);
      if (raw.command !== undefined && (typeof raw.command !== 'string' || raw.command.trim() === '')) {
        throw new ConfigError(`${where}.command must be a non-empty string`);
      }
      if (raw.args !== undefined && !(Array.isArray(raw.args) && raw.args.every((a) => typeof a === 'string'))) {
        throw new ConfigError(`${where}.args must be an array of strings`);
      }
      if (raw.promptMode !== undefined && raw.promptMode !== 'argument' && raw.promptMode !== 'typed') {
        throw new ConfigError(`${where}.promptMode must be "argument" or "typed"`);
      }
      agents[name] = { command: raw.command as string | undefined, args: raw.args as string[] | undefined, promptMode: raw.promptMode };
    }
  }
  const workspaceRoots: string[] = [];
  if (value.workspaceRoots !== undefined) {
    if (!Array.isArray(value.workspaceRoots) || !value.workspaceRoots.every((r) => typeof r === 'string' && r.trim() !== '')) {
      throw new ConfigError(`settings file ${file}: "workspaceRoots" must be an array of non-empty strings`);
    }
    for (const root of value.workspaceRoots as string[]) workspaceRoots.push(expandHome(root.trim()));
  }
  return { agents, workspaceRoots };
}

/** `~` and `~/x` -> the home directory; relative paths are taken relative to the home directory. */
export function expandHome(path: string, home = homedir()): string {
  const expanded = path.replace(/^~(?=$|\/)/, home);
  return isAbsolute(expanded) ? resolve(expanded) : resolve(home, expanded);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
