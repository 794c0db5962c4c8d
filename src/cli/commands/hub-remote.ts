/** `hapi machines|sessions|spawn|stop`: thin commands over HubService. */
import { runnerStateFromProto, sessionStateFromProto, stopResultFromProto } from '../../contract/common.js';
import type { Machine } from '../../contract/hub.js';
import { machineToJson, sessionToJson } from '../../contract/json.js';
import { hapiPaths } from '../../shared/paths.js';
import { clientConfig } from '../../shared/config.js';
import { hubConfig } from '../../shared/config.js';
import { resolveHubCredentials, withHub } from '../../shared/hub-client.js';
import { table } from './hub-token.js';

const creds = () => resolveHubCredentials(hapiPaths());
const timeout = () => AbortSignal.timeout(clientConfig().httpTimeoutMs);
const out = (s: string) => process.stdout.write(s);

function ago(d: Date | undefined): string {
  if (!d) return '-';
  const s = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

/** The runner column: what the hub last knew of the machine's runner. */
function runnerLabel(m: Machine): string {
  let s;
  try {
    s = runnerStateFromProto(m.runnerState);
  } catch {
    return 'unknown';
  }
  switch (s.status) {
    case 'running':
      return `running, pid ${s.pid}`;
    case 'shutting-down':
      return `shutting down${s.shutdownReason ? ` (${s.shutdownReason})` : ''}`;
    case 'lost':
      return `lost ${ago(s.lostAt)}, last pid ${s.pid}`;
    default:
      return 'unknown';
  }
}

export async function machines(opts: { json?: boolean }): Promise<void> {
  const r = await withHub(creds(), (c) => c.hub.listMachines({}, { signal: timeout() }));
  if (opts.json) return void out(`${JSON.stringify({ machines: r.machines.map(machineToJson) })}\n`);
  if (r.machines.length === 0) return void out('no machines (start a runner with HAPI_API_URL and CLI_API_TOKEN set, or `hapi up`)\n');
  out(
    table(
      ['ID', 'NAME', 'STATUS', 'RUNNER', 'PLATFORM', 'CLI', 'LAST ALIVE'],
      r.machines.map((m) => [
        m.id,
        m.metadata?.displayName || m.metadata?.hostname || '',
        m.online ? 'online' : 'offline',
        runnerLabel(m),
        `${m.metadata?.platform ?? ''}/${m.metadata?.arch ?? ''}`,
        m.metadata?.cliVersion ?? '',
        ago(m.lastAlive),
      ]),
    ),
  );
}

export async function sessions(opts: { machine?: string; all?: boolean; json?: boolean }): Promise<void> {
  const r = await withHub(creds(), (c) => c.hub.listSessions({ machineId: opts.machine ?? '', includeEnded: !!opts.all }, { signal: timeout() }));
  if (opts.json) return void out(`${JSON.stringify({ sessions: r.sessions.map(sessionToJson) })}\n`);
  if (r.sessions.length === 0) return void out('no sessions\n');
  out(
    table(
      ['ID', 'MACHINE', 'STATE', 'AGENT', 'PID', 'STARTED', 'DIRECTORY'],
      r.sessions.map((s) => [s.id, s.machineId, sessionStateFromProto(s.state), s.agent, String(s.pid), ago(s.startedAt), s.directory]),
    ),
  );
}

export async function spawn(
  directory: string,
  opts: { machine: string; agent?: string; approve?: boolean; worktree?: string | boolean; json?: boolean },
): Promise<void> {
  const spec = {
    directory,
    agent: opts.agent ?? '',
    sessionId: '',
    approveCreateDirectory: !!opts.approve,
    worktree: opts.worktree ? { branch: typeof opts.worktree === 'string' ? opts.worktree : '' } : undefined,
    requestId: '',
    agentArgs: [],
  };
  // Spawns wait for the session to report itself: use the hub's spawn deadline plus slack.
  const ms = hubConfig().spawnDeadlineMs + 5_000;
  const r = await withHub(creds(), (c) => c.hub.spawnSession({ machineId: opts.machine, spec }, { signal: AbortSignal.timeout(ms) }));
  const result = r.outcome?.result;
  if (result?.$case === 'approvalRequired') {
    if (opts.json) out(`${JSON.stringify({ requiresUserApproval: true, actionRequired: result.value.actionRequired, directory: result.value.directory })}\n`);
    else out(`${result.value.directory} does not exist on ${opts.machine}; run again with --approve to create it\n`);
    process.exitCode = 1;
    return;
  }
  if (result?.$case !== 'session') throw new Error('hub returned an empty spawn outcome');
  const s = result.value;
  if (opts.json) return void out(`${JSON.stringify({ session: sessionToJson(s) })}\n`);
  out(`started session ${s.id} (pid ${s.pid}, agent ${s.agent}) in ${s.directory} on ${opts.machine}\n`);
}

export async function stop(session: string, opts: { machine: string; json?: boolean }): Promise<void> {
  const r = await withHub(creds(), (c) => c.hub.stopSession({ machineId: opts.machine, sessionId: session }, { signal: timeout() }));
  const result = stopResultFromProto(r.result);
  if (opts.json) return void out(`${JSON.stringify({ result })}\n`);
  out(result === 'stopped' ? `stopped session ${session}\n` : `session ${session} had already exited\n`);
}
