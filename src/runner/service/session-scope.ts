/**
 * Under systemd, each session runs in its own transient scope (`systemd-run --user --scope`), so
 * stopping or restarting the runner's unit never kills a session: a unit's processes are those of
 * its cgroup, and systemd itself discourages relying on KillMode=process alone. systemd-run
 * registers the scope and then execs the session, so the session keeps the PID the runner saw
 * at spawn (and its start time, which guards every later signal).
 *
 * Whether it works is found out once, with a trial `systemd-run --user --scope true` (it needs the
 * user's systemd instance and bus); where it does not, sessions start as before, and the runner's
 * log says so once.
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../../shared/logger.js';

/** What the spawner puts before `node <session argv>`: nothing, or the systemd-run prefix. */
export type LaunchPrefix = (sessionId: string) => Promise<string[]>;

/** The systemd-run words that run one session in its own scope. Exported for tests and docs. */
export function scopePrefix(sessionId: string): string[] {
  return ['systemd-run', '--user', '--scope', '--quiet', '--collect', `--unit=hapi-session-${sessionId}`, '--description=hapi session', '--'];
}

/** Runs the trial; resolves with why it failed, or undefined when scopes work. */
function trial(timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('systemd-run', ['--user', '--scope', '--quiet', '--collect', '--', 'true'], { timeout: timeoutMs }, (err, _stdout, stderr) => {
      if (!err) return resolve(undefined);
      const code = (err as NodeJS.ErrnoException).code;
      resolve(code === 'ENOENT' ? 'systemd-run not found' : `${String(stderr).trim() || err.message}`);
    });
  });
}

/**
 * The launch prefix of a runner: with `enabled` (the runner runs under systemd), scopes once the
 * trial passed, else none. The trial runs at the first spawn, once.
 */
export function createSessionScopes(opts: { enabled: boolean; log: Logger; timeoutMs?: number }): LaunchPrefix {
  if (!opts.enabled) return async () => [];
  let works: Promise<boolean> | undefined;
  return async (sessionId) => {
    works ??= trial(opts.timeoutMs ?? 5_000).then((why) => {
      if (why === undefined) opts.log.info('sessions run in their own systemd scopes (systemd-run --user --scope)');
      else opts.log.info({ why }, 'systemd-run --user --scope does not work here; sessions run in the runner unit (KillMode=process keeps them alive on stop)');
      return why === undefined;
    });
    return (await works) ? scopePrefix(sessionId) : [];
  };
}
