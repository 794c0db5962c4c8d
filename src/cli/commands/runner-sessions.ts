/** `hapi runner list` and `hapi runner stop-session`. */
import { StartedBy, StopSessionResult } from '../../../gen/hapi/common/v1/common.js';
import { InvalidArgumentError } from '../../shared/errors.js';
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
  const m = /^PID-(\d+)$/.exec(id);
  if (!m && id.trim() === '') throw new InvalidArgumentError('session id must not be empty');
  const target = m ? { $case: 'pid' as const, value: Number(m[1]) } : { $case: 'sessionId' as const, value: id };
  const r = await withRunner((c, signal) => c.stopSession({ target }, { signal }));
  const what = m ? `Session ${r.sessionId} (PID ${m[1]})` : `Session ${r.sessionId}`;
  process.stdout.write(r.result === StopSessionResult.STOP_SESSION_RESULT_STOPPED ? `${what} stopped\n` : `${what} was already gone\n`);
}
