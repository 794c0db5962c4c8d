/** `hapi runner list` and `hapi runner stop-session`. */
import { sessionStateFromProto, startedByFromProto, stopResultFromProto } from '../../contract/common.js';
import { sessionTerminalFromProto, stopTargetToProto, type ListSessionsResponse } from '../../contract/runner.js';
import { parseStopTarget, TERMINAL_LABEL } from '../../contract/types.js';
import { withRunner, type RunnerClient } from '../../runner/client/connect.js';
import { printJson, runnerListJson } from '../json-output.js';
import { pickSession } from '../../shared/targets.js';
import { activityLabel, readActivity } from './activity-label.js';

/** ListSessions, with the kept ended sessions when `all`. */
export function listSessions(c: RunnerClient, signal: AbortSignal, all = false): Promise<ListSessionsResponse> {
  return c.listSessions({ includeEnded: all }, { signal });
}

export async function list(opts: { json?: boolean; all?: boolean }): Promise<void> {
  const r = await withRunner((c, signal) => listSessions(c, signal, opts.all));
  if (opts.json) return printJson(runnerListJson(r));
  const { sessions } = r;
  const live = sessions.filter((s) => sessionStateFromProto(s.state) !== 'ended');
  if (live.length === 0 && sessions.length === 0) {
    process.stdout.write('No active sessions\n');
    return;
  }
  const lines = [`Active Sessions (${live.length}):`];
  for (const s of sessions) {
    if (s === sessions[live.length]) lines.push(`Ended Sessions (${sessions.length - live.length}):`);
    const by = startedByFromProto(s.startedBy) === 'runner' ? 'runner' : TERMINAL_LABEL;
    const t = sessionTerminalFromProto(r.terminals[s.id]);
    if (t.ended) {
      const how = s.exitSignal ? `killed by ${s.exitSignal}` : s.exitCode !== undefined ? `exit code ${s.exitCode}` : 'exit unknown';
      lines.push(`  - Session: ${s.id}  PID: ${s.pid}  Ended: ${how}`);
      continue;
    }
    const term = t.attachable ? `  Viewers: ${t.viewers}  Last output: ${t.lastOutputAt?.toISOString() ?? 'none'}  Activity: ${activityLabel(readActivity(s.activity))}` : '';
    lines.push(`  - Session: ${s.id}  PID: ${s.pid}  Started by: ${by}${term}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * `hapi runner stop-session <session>`: an id, a unique id prefix (the one session resolver,
 * shared/targets.ts) or PID-<n>. Ambiguous: exit 2 with the candidates; unknown: the runner
 * answers NOT_FOUND (exit 4).
 */
export async function stopSession(arg: string): Promise<void> {
  const parsed = parseStopTarget(arg);
  const r = await withRunner(async (c, signal) => {
    let target = parsed;
    if ('sessionId' in parsed) {
      const { sessions } = await c.listSessions({ includeEnded: true }, { signal });
      const choices = sessions.map((s) => {
        const state = sessionStateFromProto(s.state);
        return { id: s.id, machineId: '', live: state !== 'ended', label: `${state}, pid ${s.pid}, ${s.directory}` };
      });
      target = { sessionId: pickSession(choices, parsed.sessionId)?.id ?? parsed.sessionId };
    }
    return c.stopSession({ target: stopTargetToProto(target) }, { signal });
  });
  const what = 'pid' in parsed ? `Session ${r.sessionId} (PID ${parsed.pid})` : `Session ${r.sessionId}`;
  process.stdout.write(stopResultFromProto(r.result) === 'stopped' ? `${what} stopped\n` : `${what} was already gone\n`);
}
