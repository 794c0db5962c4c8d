/**
 * The runner's service, seen from the CLI: is one installed for this HAPI_HOME, and the commands
 * that install, remove, start and stop it through its manager (`systemctl --user`, `launchctl`).
 * When one is installed, the service manager owns the runner: `hapi runner stop`/`start` go
 * through it, so a stop is not undone by its restart policy (runner-lifecycle.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Env } from '../../shared/config.js';
import { FailedPreconditionError } from '../../shared/errors.js';
import { servicePathsFor, type ServiceManagerKind, type ServicePaths } from '../../shared/paths.js';

/** One command run through the manager, as printed to the person. */
export interface ManagerCommand {
  argv: string[];
  /** A failure of this command is expected in some states (e.g. disabling a unit never loaded). */
  mayFail?: boolean;
}

/** The manager the platform uses: launchd on macOS, systemd elsewhere. */
export function defaultManager(platform: NodeJS.Platform = process.platform): ServiceManagerKind {
  return platform === 'darwin' ? 'launchd' : 'systemd';
}

/** The service installed for this HAPI_HOME (its file exists), the platform's manager first. */
export function installedService(env: Env = process.env): ServicePaths | undefined {
  const first = defaultManager();
  const kinds: ServiceManagerKind[] = first === 'systemd' ? ['systemd', 'launchd'] : ['launchd', 'systemd'];
  for (const kind of kinds) {
    const paths = servicePathsFor(kind, env);
    if (existsSync(paths.file)) return paths;
  }
  return undefined;
}

function launchdDomain(): string {
  return `gui/${typeof process.getuid === 'function' ? process.getuid() : 501}`;
}

/** The manager's commands for each action (README "Runner at boot" lists the same). */
export function managerCommands(paths: ServicePaths, action: 'install' | 'uninstall' | 'start' | 'stop'): ManagerCommand[] {
  if (paths.kind === 'systemd') {
    const ctl = (...args: string[]) => ['systemctl', '--user', ...args];
    switch (action) {
      case 'install':
        return [{ argv: ctl('daemon-reload') }, { argv: ctl('enable', '--now', paths.name) }];
      case 'uninstall':
        return [{ argv: ctl('disable', '--now', paths.name), mayFail: true }];
      case 'start':
        // A unit that hit its start limit stays failed until reset: a start by hand clears it.
        return [{ argv: ctl('reset-failed', paths.name), mayFail: true }, { argv: ctl('start', paths.name) }];
      case 'stop':
        return [{ argv: ctl('stop', paths.name) }];
    }
  }
  const target = `${launchdDomain()}/${paths.name}`;
  switch (action) {
    case 'install':
      // Bootstrapping loads it (RunAtLoad starts the runner); a loaded older copy goes first.
      return [{ argv: ['launchctl', 'bootout', target], mayFail: true }, { argv: ['launchctl', 'bootstrap', launchdDomain(), paths.file] }];
    case 'uninstall':
      return [{ argv: ['launchctl', 'bootout', target], mayFail: true }];
    case 'start':
      // Loaded again if it was booted out (fails harmlessly when it is loaded), then started
      // if it is not running.
      return [{ argv: ['launchctl', 'bootstrap', launchdDomain(), paths.file], mayFail: true }, { argv: ['launchctl', 'kickstart', target] }];
    case 'stop':
      // A clean exit (0) is not restarted: KeepAlive restarts only on a non-zero exit.
      return [{ argv: ['launchctl', 'kill', 'SIGTERM', target] }];
  }
}

/** The text of a command as a person would type it. */
export function commandText(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export interface RunResult {
  ok: boolean;
  output: string;
}

/** Runs one manager command (found on PATH), with a timeout; never throws. */
export function runManagerCommand(argv: string[], env: Env = process.env, timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { env: env as NodeJS.ProcessEnv, timeout: timeoutMs }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`.trim();
      if (!err) return resolve({ ok: true, output });
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${argv[0]} not found on PATH` : output || err.message;
      resolve({ ok: false, output: why });
    });
  });
}

/**
 * Runs the commands of `action` in order; a failing one that may not fail stops the rest and
 * throws FailedPrecondition naming the command, what it said, and `hint`.
 */
export async function runManager(paths: ServicePaths, action: 'install' | 'uninstall' | 'start' | 'stop', opts: { env?: Env; hint?: string; onCommand?: (text: string) => void } = {}): Promise<void> {
  for (const cmd of managerCommands(paths, action)) {
    opts.onCommand?.(commandText(cmd.argv));
    const r = await runManagerCommand(cmd.argv, opts.env);
    if (r.ok || cmd.mayFail) continue;
    throw new FailedPreconditionError(`\`${commandText(cmd.argv)}\` failed: ${r.output}${opts.hint ? `\n${opts.hint}` : ''}`);
  }
}

/** systemd: whether the unit is active right now (`systemctl --user is-active`); launchd: whether it is loaded with a PID. */
export async function serviceIsActive(paths: ServicePaths, env: Env = process.env): Promise<boolean> {
  if (paths.kind === 'systemd') return (await runManagerCommand(['systemctl', '--user', 'is-active', '--quiet', paths.name], env)).ok;
  const r = await runManagerCommand(['launchctl', 'print', `${launchdDomain()}/${paths.name}`], env);
  return r.ok && /\bpid = \d+/.test(r.output);
}

/**
 * systemd only: whether the user's manager outlives their logins (`loginctl enable-linger`).
 * Without it, a user unit starts at the first login and stops at the last logout.
 */
export async function lingerEnabled(env: Env = process.env): Promise<boolean | undefined> {
  const user = env.USER || env.LOGNAME;
  if (!user) return undefined;
  const r = await runManagerCommand(['loginctl', 'show-user', user, '--property=Linger'], env, 5_000);
  if (!r.ok) return undefined;
  return /Linger=yes/.test(r.output);
}
