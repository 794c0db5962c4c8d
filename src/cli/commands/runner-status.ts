/** `hapi runner status`. */
import { clientConfig } from '../../shared/config.js';
import { UnavailableError } from '../../shared/errors.js';
import { hapiPaths } from '../../shared/paths.js';
import { probeRunner, withRunner } from '../../runner/client/connect.js';
import { inspectAndCleanStale } from '../../runner/client/stale.js';
import { hubLinkStateFromProto } from '../../contract/runner.js';
import { installedService } from '../../runner/service/service-control.js';
import { EXIT_UNAVAILABLE } from '../../shared/exit-codes.js';
import { printJson, runnerSessionsJson, runnerStatusJson } from '../json-output.js';

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [d && `${d}d`, (d || h) && `${h}h`, (d || h || m) && `${m}m`, `${s % 60}s`].filter(Boolean);
  return parts.join(' ');
}

/**
 * Local time as "2026-11-23 21:23:26". Written by hand: the first toLocaleString() call loads
 * ICU data, which costs ~10 ms of the status command's cold start.
 */
export function formatLocalTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export async function status(opts: { json?: boolean }): Promise<void> {
  const paths = hapiPaths();
  const timeoutMs = clientConfig().httpTimeoutMs;
  const s = await probeRunner(paths, timeoutMs);
  if (!s) {
    const stale = await inspectAndCleanStale(paths);
    const message =
      stale.kind === 'alive-not-answering'
        ? `runner PID ${stale.pid} is alive but did not answer on ${paths.socket} within ${timeoutMs} ms`
        : stale.kind === 'stale-cleaned'
          ? `runner is not running (stale state left by dead runner${stale.pid ? ` PID ${stale.pid}` : ''}; cleaned up)`
          : 'runner is not running';
    if (opts.json) {
      const state = stale.kind === 'none' ? 'not-running' : stale.kind;
      printJson(runnerStatusJson(undefined, null, { state, pid: ('pid' in stale ? stale.pid : undefined) ?? null, message }));
      process.exitCode = EXIT_UNAVAILABLE;
      return;
    }
    throw new UnavailableError(message);
  }
  const link = s.hubLink;
  const linkState = link ? hubLinkStateFromProto(link.state) : 'not-configured';
  const uptimeMs = s.startedAt ? Date.now() - s.startedAt.getTime() : 0;
  if (opts.json) {
    // Each session's viewers and last output (one more call, made only for --json).
    const { listSessions } = await import('./runner-sessions.js');
    // A runner still starting would make the list wait: then none are shown.
    const sessions = s.ready ? runnerSessionsJson(await withRunner((c, signal) => listSessions(c, signal))) : [];
    return printJson(runnerStatusJson(s, sessions));
  }
  let hub: string = linkState;
  if (linkState === 'not-configured') hub = 'not configured (local only; see `hapi auth login`)';
  else {
    hub = `${linkState} to ${link!.hubUrl}`;
    if (link!.namespace) hub += ` (namespace ${link!.namespace}, machine ${link!.machineId})`;
    if (link!.lastError) hub += `\n                  last error: ${link!.lastError}`;
  }
  const lines = [
    'Runner is running',
    `  PID:            ${s.pid}`,
    `  Uptime:         ${formatDuration(uptimeMs)} (since ${s.startedAt ? formatLocalTime(s.startedAt) : 'unknown'})`,
    `  CLI version:    ${s.cliVersion} (${s.cliPath}, mtime ${new Date(s.cliMtimeMs).toISOString()})`,
    `  HTTP port:      ${s.httpPort}`,
    `  Socket:         ${s.socketPath}`,
    `  Last heartbeat: ${s.lastHeartbeat ? formatLocalTime(s.lastHeartbeat) : 'none yet'}`,
    `  Log file:       ${s.logPath}${logWritesNote(s.logWrites)}`,
    `  Sessions:       ${s.sessionCount}`,
    `  Workspace roots: ${s.workspaceRoots.length ? s.workspaceRoots.join(', ') : 'unrestricted'}`,
    `  Hub link:       ${hub}`,
  ];
  // Who starts and stops it (`hapi runner install-service`): then start/stop go through it.
  const service = installedService();
  if (service) lines.push(`  Service:        ${service.kind} ${service.name} (${service.file})`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Nothing while every log write succeeded; otherwise why and how many lines were dropped. */
export function logWritesNote(w: { failing: boolean; lastError: string; droppedLines: number; lastFailureAt?: Date } | undefined): string {
  if (!w || w.droppedLines === 0) return '';
  const dropped = `${w.droppedLines} line${w.droppedLines === 1 ? '' : 's'} dropped`;
  if (w.failing) return ` (log writes failing: ${w.lastError || 'unknown error'}; ${dropped})`;
  const when = w.lastFailureAt ? ` at ${formatLocalTime(w.lastFailureAt)}` : '';
  return ` (${dropped}; last failure ${w.lastError || 'unknown error'}${when})`;
}
