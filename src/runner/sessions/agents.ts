/**
 * Agent resolution: which executable a session runs for an agent name. Used by the runner
 * (to fail a spawn early with a clear message) and by the session process (to run it), so
 * both always agree.
 *
 * Precedence, highest first: the env var HAPI_AGENT_<NAME>_COMMAND (a command line such as
 * "/opt/codex --flag"), then agents.<name> in $HAPI_HOME/settings.json, then the built-in
 * binary name looked up on PATH.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError } from '../../shared/errors.js';
import type { Env } from '../../shared/config.js';
import { readSettings, type PromptMode } from './settings.js';

export type { PromptMode } from './settings.js';

/** The agent used when a spawn request or `hapi` names none. */
export const DEFAULT_AGENT = 'claude';

/** Built-in agents and the binary each runs. */
export const BUILTIN_AGENTS: Readonly<Record<string, string>> = {
  claude: 'claude',
  codex: 'codex',
  gemini: 'gemini',
  opencode: 'opencode',
};

/** Built-in agents that take an initial prompt as a positional argument; the others get it typed. */
const ARGUMENT_PROMPT_AGENTS = new Set(['claude', 'codex']);

/** Agent names end up in env var names, file names and logs: keep them plain. */
const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface ResolvedAgent {
  name: string;
  /** Absolute path of the executable. */
  command: string;
  /** Fixed arguments from the configuration, before the session's own agent args. */
  args: string[];
  /** Where the command came from, for messages and logs. */
  source: 'env' | 'settings' | 'builtin';
  /** How a spawn's prompt reaches it: settings.json's promptMode, else the built-in default. */
  promptMode: PromptMode;
}

export interface AgentResolverOptions {
  /** Environment for HAPI_AGENT_<NAME>_COMMAND and PATH. */
  env?: Env;
  /** $HAPI_HOME/settings.json. */
  settingsFile: string;
  /** Directory a relative command path is resolved against (default: process.cwd()). */
  cwd?: string;
}

export interface AgentResolver {
  /**
   * Resolves an agent name (empty = default) to an executable. InvalidArgumentError for an
   * unknown name; FailedPreconditionError when the binary is missing or the settings are bad.
   */
  resolve(name?: string): ResolvedAgent;
  /** Every valid agent name: built-ins plus names configured in settings.json or the env. */
  knownAgents(): string[];
  /** Names whose executable resolves right now (for the machine metadata shown on the hub). */
  availableAgents(): string[];
}

/** HAPI_AGENT_<NAME>_COMMAND for an agent name (non-alphanumerics become '_'). */
export function agentEnvVar(name: string): string {
  return `HAPI_AGENT_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_COMMAND`;
}

export function createAgentResolver(opts: AgentResolverOptions): AgentResolver {
  const env = opts.env ?? process.env;

  function configuredNames(): string[] {
    const names = new Set<string>(Object.keys(BUILTIN_AGENTS));
    for (const name of Object.keys(readSettings(opts.settingsFile).agents)) names.add(name);
    return [...names];
  }

  function resolveAgent(requested?: string): ResolvedAgent {
    const name = requested && requested.trim() !== '' ? requested.trim() : DEFAULT_AGENT;
    if (!AGENT_NAME.test(name)) {
      throw new InvalidArgumentError(`invalid agent name ${JSON.stringify(name)}: use letters, digits, '.', '_' or '-'`);
    }
    const envVar = agentEnvVar(name);
    const fromEnv = env[envVar]?.trim();
    if (fromEnv) {
      const [command, ...args] = splitCommandLine(fromEnv, envVar);
      return { name, command: findExecutable(name, command!, `${envVar}=${JSON.stringify(fromEnv)}`), args, source: 'env', promptMode: promptModeOf(name, () => readSettings(opts.settingsFile).agents[name]) };
    }
    // Settings are only read when the env does not decide, so a broken settings.json does
    // not block an agent that is fully configured by the environment.
    const settings = readSettings(opts.settingsFile);
    const configured = settings.agents[name];
    if (configured?.command) {
      return {
        name,
        command: findExecutable(name, configured.command, `agents.${name}.command in ${opts.settingsFile}`),
        args: configured.args ?? [],
        source: 'settings',
        promptMode: promptModeOf(name, () => configured),
      };
    }
    const builtin = BUILTIN_AGENTS[name];
    if (builtin === undefined && configured === undefined) {
      const known = [...new Set([...Object.keys(BUILTIN_AGENTS), ...Object.keys(settings.agents)])];
      throw new InvalidArgumentError(`unknown agent '${name}'; known agents: ${known.join(', ')}`, { agent: name, known });
    }
    // A settings entry with only "args" keeps the built-in binary (or the name itself).
    const binary = builtin ?? name;
    const command = lookPath(binary, env.PATH);
    if (!command) {
      throw new FailedPreconditionError(
        `agent '${name}' not found on PATH; set ${envVar} or agents.${name}.command in ${opts.settingsFile}`,
        { agent: name },
      );
    }
    return { name, command, args: configured?.args ?? [], source: configured ? 'settings' : 'builtin', promptMode: promptModeOf(name, () => configured) };
  }

  function findExecutable(name: string, command: string, origin: string): string {
    const found = command.includes('/') ? checkExecutable(resolve(opts.cwd ?? process.cwd(), command)) : lookPath(command, env.PATH);
    if (!found) {
      throw new FailedPreconditionError(`agent '${name}': command '${command}' (from ${origin}) not found or not executable`, {
        agent: name,
      });
    }
    return found;
  }

  return {
    resolve: resolveAgent,
    knownAgents() {
      const names = new Set(configuredNames());
      for (const key of Object.keys(env)) {
        const m = /^HAPI_AGENT_([A-Z0-9_]+)_COMMAND$/.exec(key);
        if (m && env[key]?.trim()) names.add(m[1]!.toLowerCase());
      }
      return [...names];
    },
    availableAgents() {
      return this.knownAgents().filter((name) => {
        try {
          resolveAgent(name);
          return true;
        } catch {
          return false;
        }
      });
    },
  };
}

/**
 * An agent's prompt mode: its settings entry's, else "argument" for the built-in agents that
 * take an initial prompt (claude, codex), else "typed". An agent configured by the environment
 * alone reads it from settings.json too, where a broken file does not block it.
 */
function promptModeOf(name: string, setting: () => { promptMode?: PromptMode } | undefined): PromptMode {
  let configured: PromptMode | undefined;
  try {
    configured = setting()?.promptMode;
  } catch {
    configured = undefined;
  }
  return configured ?? (ARGUMENT_PROMPT_AGENTS.has(name) ? 'argument' : 'typed');
}

/** Finds an executable file on PATH (like `which`); undefined when absent. */
export function lookPath(binary: string, pathVar: string | undefined): string | undefined {
  if (isAbsolute(binary)) return checkExecutable(binary);
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir) continue;
    const found = checkExecutable(join(dir, binary));
    if (found) return found;
  }
  return undefined;
}

function checkExecutable(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return undefined;
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return undefined;
  }
}

/**
 * Splits a command line the way a POSIX shell splits words: whitespace separates, single
 * quotes are literal, double quotes allow \" and \\, a backslash escapes the next character.
 * No expansion of variables or globs: the value is configuration, not a script.
 */
export function splitCommandLine(line: string, what = 'command'): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else word += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) word += line[++i];
      else word += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) throw new InvalidArgumentError(`${what}: unterminated ${quote} quote in ${JSON.stringify(line)}`);
  if (inWord) words.push(word);
  if (words.length === 0) throw new InvalidArgumentError(`${what} is empty`);
  return words;
}
