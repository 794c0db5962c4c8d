/**
 * `hapi machines|sessions|spawn|stop`: thin commands over HubService. `--machine` and session
 * arguments go through the one resolver (hub-targets.ts): ids, unique id prefixes, names.
 */
import { runnerStateFromProto, sessionStateFromProto, stopResultFromProto } from '../../contract/common.js';
import type { HubServiceClient, Machine } from '../../contract/hub.js';
import { machineToJson, sessionToJson } from '../../contract/json.js';
import { hapiPaths } from '../../shared/paths.js';
import { clientConfig } from '../../shared/config.js';
import { hubConfig } from '../../shared/config.js';
import { resolveHubCredentials, withHub } from '../../shared/hub-client.js';
import { table } from './hub-token.js';
import { pickMachine, pickSession } from './hub-targets.js';

const creds = () => resolveHubCredentials(hapiPaths());
const timeout = () => AbortSignal.timeout(clientConfig().httpTimeoutMs);
const out = (s: string) => process.stdout.write(s);

/** A machine as messages name it: `<name> (<id>)`, or its id. */
function machineLabel(m: Machine): string {
  const name = m.metadata?.displayName || m.metadata?.hostname;
  return name ? `${name} (${m.id})` : m.id;
}

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

/** The machine `--machine <arg>` names (id, unique id prefix or name) in the caller's namespace. */
async function resolveMachine(hub: HubServiceClient, arg: string): Promise<Machine> {
  const { machines } = await hub.listMachines({}, { signal: timeout() });
  return pickMachine(machines, arg);
}

/** The id of the session `arg` names on a machine (id or unique prefix); `arg` itself when the hub knows none. */
async function resolveSessionId(hub: HubServiceClient, machineId: string, arg: string): Promise<string> {
  const { sessions } = await hub.listSessions({ machineId, includeEnded: true }, { signal: timeout() });
  const live = new Set(['starting', 'running']);
  const picked = pickSession(
    sessions.map((s) => ({ id: s.id, machineId: s.machineId, live: live.has(sessionStateFromProto(s.state)) })),
    arg,
  );
  return picked?.id ?? arg.trim();
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
  const r = await withHub(creds(), async (c) => {
    const machineId = opts.machine === undefined ? '' : (await resolveMachine(c.hub, opts.machine)).id;
    return c.hub.listSessions({ machineId, includeEnded: !!opts.all }, { signal: timeout() });
  });
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
  const { machine, r } = await withHub(creds(), async (c) => {
    const machine = await resolveMachine(c.hub, opts.machine);
    return { machine, r: await c.hub.spawnSession({ machineId: machine.id, spec }, { signal: AbortSignal.timeout(ms) }) };
  });
  const where = machineLabel(machine);
  const result = r.outcome?.result;
  if (result?.$case === 'approvalRequired') {
    if (opts.json) out(`${JSON.stringify({ requiresUserApproval: true, actionRequired: result.value.actionRequired, directory: result.value.directory })}\n`);
    else out(`${result.value.directory} does not exist on ${where}; run again with --approve to create it\n`);
    process.exitCode = 1;
    return;
  }
  if (result?.$case !== 'session') throw new Error('hub returned an empty spawn outcome');
  const s = result.value;
  if (opts.json) return void out(`${JSON.stringify({ session: sessionToJson(s) })}\n`);
  out(`started session ${s.id} (pid ${s.pid}, agent ${s.agent}) in ${s.directory} on ${where}\n`);
}

export async function stop(session: string, opts: { machine: string; json?: boolean }): Promise<void> {
  const { sessionId, r } = await withHub(creds(), async (c) => {
    const machine = await resolveMachine(c.hub, opts.machine);
    const sessionId = await resolveSessionId(c.hub, machine.id, session);
    return { sessionId, r: await c.hub.stopSession({ machineId: machine.id, sessionId }, { signal: timeout() }) };
  });
  const result = stopResultFromProto(r.result);
  if (opts.json) return void out(`${JSON.stringify({ result, sessionId })}\n`);
  out(result === 'stopped' ? `stopped session ${sessionId}\n` : `session ${sessionId} had already exited\n`);
}

/** `hapi screen --machine m <session>`: the session's screen, relayed by the hub. */
export async function screenRemote(session: string, opts: { machine: string; ansi?: boolean }): Promise<void> {
  const r = await withHub(creds(), async (c) => {
    const machine = await resolveMachine(c.hub, opts.machine);
    const sessionId = await resolveSessionId(c.hub, machine.id, session);
    return c.hub.getSessionScreen({ machineId: machine.id, sessionId }, { signal: timeout() });
  });
  const screen = r.screen?.screen;
  const text = opts.ansi ? (screen?.ansi ?? '') : (screen?.text ?? '').replace(/\n+$/, '');
  out(`${text}\n`);
}

/** `hapi send --machine m <session> <text>`: types through the hub. */
export async function sendRemote(session: string, text: string, opts: { machine: string; enter?: boolean }): Promise<void> {
  await withHub(creds(), async (c) => {
    const machine = await resolveMachine(c.hub, opts.machine);
    const sessionId = await resolveSessionId(c.hub, machine.id, session);
    await c.hub.sendInput({ machineId: machine.id, sessionId, input: { data: Buffer.alloc(0), text, enter: opts.enter === true } }, { signal: timeout() });
  });
}
