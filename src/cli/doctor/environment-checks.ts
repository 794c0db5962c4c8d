/**
 * `hapi doctor`'s checks of the machine: the agents the runner can start (with the runner's own
 * PATH: sessions started from the hub or the page run in the runner's environment, not in the
 * shell that asks), the native modules, and whether a service manager starts the runner.
 */
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createAgentResolver } from '../../runner/sessions/agents.js';
import { isHapiError } from '../../shared/errors.js';
import type { HapiPaths } from '../../shared/paths.js';
import { readProcEnviron } from '../../shared/proc.js';
import { check, type CheckResult } from './check.js';

type Env = Record<string, string | undefined>;

/** Which agents resolve in `env`: name -> command, or the reason it does not. */
function agentsIn(env: Env, settingsFile: string): Map<string, { command?: string; problem?: string }> {
  const resolver = createAgentResolver({ env, settingsFile });
  const out = new Map<string, { command?: string; problem?: string }>();
  let names: string[];
  try {
    names = resolver.knownAgents();
  } catch (err) {
    out.set('(settings)', { problem: err instanceof Error ? err.message : String(err) });
    return out;
  }
  for (const name of names) {
    try {
      out.set(name, { command: resolver.resolve(name).command });
    } catch (err) {
      out.set(name, { problem: isHapiError(err) ? err.message : String(err) });
    }
  }
  return out;
}

/** `runnerPid`: the running runner, whose environment is read from /proc (Linux); else this shell's. */
export function agentsCheck(paths: HapiPaths, runnerPid: number | undefined, shellEnv: Env = process.env): CheckResult {
  const environ = runnerPid ? readProcEnviron(runnerPid) : undefined;
  const runnerEnv: Env = environ ? Object.fromEntries(environ) : shellEnv;
  const whose = environ ? `the runner's (PID ${runnerPid})` : runnerPid ? 'this shell\'s (the runner\'s could not be read)' : 'this shell\'s (no runner running)';
  const seen = agentsIn(runnerEnv, paths.settingsFile);
  const found = [...seen].filter(([, a]) => a.command).map(([name, a]) => `${name} (${a.command})`);
  const note = `Sessions started from the hub or the web page run with the runner's environment: PATH=${runnerEnv.PATH ?? ''}`;
  if (found.length === 0) {
    return check('agents', 'agents', 'fail', `no agent found with ${whose} PATH. ${note}`, 'install an agent (e.g. `npm i -g @anthropic-ai/claude-code`) or set HAPI_AGENT_<NAME>_COMMAND, then `hapi runner stop && hapi runner start`');
  }
  // Found here but not by the runner: it was started with another PATH.
  const onlyHere = environ
    ? [...agentsIn(shellEnv, paths.settingsFile)].filter(([name, a]) => a.command && !seen.get(name)?.command).map(([name]) => name)
    : [];
  const missing = [...seen].filter(([, a]) => !a.command).map(([name]) => name);
  const detail = `found with ${whose} PATH: ${found.join(', ')}${missing.length ? `; not found: ${missing.join(', ')}` : ''}. ${note}`;
  if (onlyHere.length) {
    return check('agents', 'agents', 'warn', `${detail}. This shell finds ${onlyHere.join(', ')}, the runner does not`, 'restart the runner from this shell: `hapi runner stop && hapi runner start`');
  }
  return check('agents', 'agents', 'ok', detail);
}

/** node-pty (terminals) and better-sqlite3 (the hub's store) load and work. */
export async function nativeModulesCheck(): Promise<CheckResult> {
  const problems: string[] = [];
  try {
    const pty = (await import('node-pty')) as { spawn?: unknown; default?: { spawn?: unknown } };
    if (typeof (pty.spawn ?? pty.default?.spawn) !== 'function') problems.push('node-pty loaded without spawn()');
  } catch (err) {
    problems.push(`node-pty: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  try {
    const mod = (await import('better-sqlite3')) as unknown as { default?: new (f: string) => { close(): void } } & (new (f: string) => { close(): void });
    const Database = mod.default ?? mod;
    new Database(':memory:').close();
  } catch (err) {
    problems.push(`better-sqlite3: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  if (problems.length) {
    return check('native-modules', 'native modules', 'fail', `cannot load: ${problems.join('; ')} (Node ${process.version}, ${process.platform}-${process.arch})`, 'npm rebuild node-pty better-sqlite3 (in the directory hapi is installed in)');
  }
  return check('native-modules', 'native modules', 'ok', `node-pty and better-sqlite3 load (Node ${process.version})`);
}

/**
 * Where a service manager's runner unit would be: the systemd user unit or a launchd agent
 * (`hapi runner install-service` writes them).
 */
export function serviceFiles(env: Env = process.env, platform = process.platform): { kind: string; candidates: string[] } {
  const home = env.HOME || homedir();
  if (platform === 'darwin') {
    const dir = join(home, 'Library', 'LaunchAgents');
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => /hapi/i.test(n) && n.endsWith('.plist'));
    } catch {
      // no LaunchAgents directory
    }
    return { kind: 'launchd agent', candidates: names.length ? names.map((n) => join(dir, n)) : [join(dir, 'dev.hapi.runner.plist')] };
  }
  const config = env.XDG_CONFIG_HOME || join(home, '.config');
  return { kind: 'systemd user unit', candidates: [join(config, 'systemd', 'user', 'hapi-runner.service')] };
}

export function serviceCheck(env: Env = process.env, platform = process.platform): CheckResult {
  if (platform !== 'linux' && platform !== 'darwin') return check('service', 'service', 'skip', `no service manager support on ${platform}`);
  const { kind, candidates } = serviceFiles(env, platform);
  const present = candidates.filter((p) => existsSync(p));
  if (present.length) return check('service', 'service', 'ok', `${kind} installed: ${present.join(', ')}`);
  return check('service', 'service', 'warn', `no ${kind} (${candidates[0]}): the runner does not start at boot or after a crash`, 'hapi runner install-service');
}
