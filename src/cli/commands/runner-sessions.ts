/** `hapi runner list` and `hapi runner stop-session`. */
import { startedByFromProto, stopResultFromProto } from '../../contract/common.js';
import { stopTargetToProto } from '../../contract/runner.js';
import { parseStopTarget, TERMINAL_LABEL } from '../../contract/types.js';
import { withRunner } from '../../runner/client/connect.js';

export async function list(opts: { json?: boolean }): Promise<void> {
  const { sessions } = await withRunner((c, signal) => c.listSessions({}, { signal }));
  if (opts.json) {
    const out = sessions.map((s) => ({
      sessionId: s.id,
      pid: s.pid,
      startedBy: startedByFromProto(s.startedBy),
      directory: s.directory,
      agent: s.agent,
      startedAt: s.startedAt?.toISOString() ?? null,
      worktree: s.worktree ?? null,
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
    const by = startedByFromProto(s.startedBy) === 'runner' ? 'runner' : TERMINAL_LABEL;
    lines.push(`  - Session: ${s.id}  PID: ${s.pid}  Started by: ${by}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function stopSession(id: string): Promise<void> {
  const parsed = parseStopTarget(id);
  const r = await withRunner((c, signal) => c.stopSession({ target: stopTargetToProto(parsed) }, { signal }));
  const what = 'pid' in parsed ? `Session ${r.sessionId} (PID ${parsed.pid})` : `Session ${r.sessionId}`;
  process.stdout.write(stopResultFromProto(r.result) === 'stopped' ? `${what} stopped\n` : `${what} was already gone\n`);
}
