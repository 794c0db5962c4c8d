/** `hapi runner list` and `hapi runner stop-session`. */
import { StartedBy, StopSessionResult } from '../../../gen/hapi/common/v1/common.js';
import { parseStopTarget } from '../../runner/domain.js';
import { withRunner } from '../../runner/runner-client.js';
import { TERMINAL_LABEL } from '../../runner/http-gateway-labels.js';

export async function list(opts: { json?: boolean }): Promise<void> {
  const { sessions } = await withRunner((c, signal) => c.listSessions({}, { signal }));
  if (opts.json) {
    const out = sessions.map((s) => ({
      sessionId: s.id,
      pid: s.pid,
      startedBy: s.startedBy === StartedBy.STARTED_BY_RUNNER ? 'runner' : 'terminal',
      directory: s.directory,
      agent: s.agent,
      startedAt: s.startedAt?.toISOString() ?? null,
      ...(s.worktree ? { worktree: s.worktree } : {}),
    }));
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  if (sessions.length === 0) {
    process.stdout.write('No active sessions\n');
    return;
  }
  const lines = [`Active Sessions (${sessions.length}):`];
  for (const s of sessions) {
    const by = s.startedBy === StartedBy.STARTED_BY_RUNNER ? 'runner' : TERMINAL_LABEL;
    lines.push(`  - Session: ${s.id}  PID: ${s.pid}  Started by: ${by}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function stopSession(id: string): Promise<void> {
  const parsed = parseStopTarget(id);
  const target = 'pid' in parsed ? { $case: 'pid' as const, value: parsed.pid } : { $case: 'sessionId' as const, value: parsed.sessionId };
  const r = await withRunner((c, signal) => c.stopSession({ target }, { signal }));
  const what = 'pid' in parsed ? `Session ${r.sessionId} (PID ${parsed.pid})` : `Session ${r.sessionId}`;
  process.stdout.write(r.result === StopSessionResult.STOP_SESSION_RESULT_STOPPED ? `${what} stopped\n` : `${what} was already gone\n`);
}
