/**
 * `hapi machines|sessions|spawn|stop`: thin commands over HubService. `--machine` and session
 * arguments go through the one resolver (shared/targets.ts): ids, unique id prefixes, names.
 */
import { runnerStateFromProto, sessionStateFromProto, stopResultFromProto } from '../../contract/common.js';
import { tokenScopeFromProto, type HubServiceClient, type Machine } from '../../contract/hub.js';
import { machineToCliJson, sessionToCliJson } from '../../contract/json.js';
import { printJson, spawnJson } from '../json-output.js';
import { sessionScreenFromProto } from '../../contract/runner.js';
import { checkPrompt } from '../../contract/limits.js';
import type { SessionScreenInfo } from '../../contract/types.js';
import { hapiPaths } from '../../shared/paths.js';
import { attachConfig, clientConfig } from '../../shared/config.js';
import { hubConfig } from '../../shared/config.js';
import { InvalidArgumentError, NotFoundError, isHapiError } from '../../shared/errors.js';
import { exitCodeOfStatus } from '../../shared/exit-codes.js';
import { resolveHubCredentials, withHub, type HubCredentials } from '../../shared/hub-client.js';
import { endedLine } from '../../session/attach/attach-command.js';
import { createHubTransport } from '../../session/attach/hub-transport.js';
import { attachTerminal } from '../../session/attach/terminal-viewer.js';
import { table } from './hub-token.js';
import { machineName, pickMachine, pickSession } from '../../shared/targets.js';
import { activityLabel, readActivity } from './activity-label.js';

const creds = () => resolveHubCredentials(hapiPaths());
const timeout = () => AbortSignal.timeout(clientConfig().httpTimeoutMs);
const out = (s: string) => process.stdout.write(s);

/** A machine as messages name it: `<name> (<id>)`, or its id. */
function machineLabel(m: Machine): string {
  const name = machineName(m);
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
export async function resolveMachine(hub: HubServiceClient, arg: string): Promise<Machine> {
  const { machines } = await hub.listMachines({}, { signal: timeout() });
  return pickMachine(machines, arg);
}

/** The id of the session `arg` names on a machine (id or unique prefix); `arg` itself when the hub knows none. */
export async function resolveSessionId(hub: HubServiceClient, machineId: string, arg: string): Promise<string> {
  const { sessions } = await hub.listSessions({ machineId, includeEnded: true }, { signal: timeout() });
  const live = new Set(['starting', 'running']);
  const picked = pickSession(
    sessions.map((s) => ({ id: s.id, machineId: s.machineId, live: live.has(sessionStateFromProto(s.state)) })),
    arg,
  );
  return picked?.id ?? arg.trim();
}

/** The session `arg` names among the sessions of every machine of the namespace; NotFound when none. */
async function resolveSessionAnywhere(hub: HubServiceClient, arg: string): Promise<{ id: string; machineId: string }> {
  const { sessions } = await hub.listSessions({ machineId: '', includeEnded: true }, { signal: timeout() });
  const live = new Set(['starting', 'running']);
  const picked = pickSession(
    sessions.map((s) => ({ id: s.id, machineId: s.machineId, live: live.has(sessionStateFromProto(s.state)), label: sessionStateFromProto(s.state) })),
    arg,
  );
  if (!picked) throw new NotFoundError(`no session matches ${JSON.stringify(arg.trim())} on any machine; see \`hapi sessions --all\``, { session: arg.trim() });
  return picked;
}

export async function machines(opts: { json?: boolean }): Promise<void> {
  const r = await withHub(creds(), (c) => c.hub.listMachines({}, { signal: timeout() }));
  if (opts.json) return printJson({ machines: r.machines.map(machineToCliJson) });
  if (r.machines.length === 0) return void out('no machines (start a runner with HAPI_API_URL and CLI_API_TOKEN set, or `hapi up`)\n');
  out(
    table(
      ['ID', 'NAME', 'STATUS', 'RUNNER', 'PLATFORM', 'CLI', 'LAST ALIVE'],
      r.machines.map((m) => [
        m.id,
        machineName(m),
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
  const { r, names } = await withHub(creds(), async (c) => {
    const machineId = opts.machine === undefined ? '' : (await resolveMachine(c.hub, opts.machine)).id;
    const listed = c.hub.listSessions({ machineId, includeEnded: !!opts.all }, { signal: timeout() });
    // The table names each session's machine as `hapi machines` does; --json keeps the ids alone.
    const machines = opts.json ? undefined : await c.hub.listMachines({}, { signal: timeout() });
    return { r: await listed, names: new Map(machines?.machines.map((m) => [m.id, machineName(m) || m.id])) };
  });
  if (opts.json) return printJson({ sessions: r.sessions.map(sessionToCliJson) });
  if (r.sessions.length === 0) return void out('no sessions\n');
  out(
    table(
      ['ID', 'MACHINE', 'STATE', 'ACTIVITY', 'AGENT', 'PID', 'STARTED', 'DIRECTORY'],
      r.sessions.map((s) => [s.id, names.get(s.machineId) ?? s.machineId, sessionStateFromProto(s.state), activityLabel(readActivity(s.activity)), s.agent, String(s.pid), ago(s.startedAt), s.directory]),
    ),
  );
}

export async function spawn(
  directory: string,
  agentArgs: string[],
  opts: { machine: string; agent?: string; prompt?: string; approve?: boolean; worktree?: string | boolean; json?: boolean },
): Promise<void> {
  // Checked here too, so a bad prompt costs no round trip and exits 2 before anything is asked.
  if (opts.prompt !== undefined) {
    if (opts.prompt === '') throw new InvalidArgumentError('--prompt must not be empty');
    checkPrompt(opts.prompt);
  }
  const spec = {
    directory,
    agent: opts.agent ?? '',
    sessionId: '',
    approveCreateDirectory: !!opts.approve,
    worktree: opts.worktree ? { branch: typeof opts.worktree === 'string' ? opts.worktree : '' } : undefined,
    requestId: '',
    agentArgs,
    prompt: opts.prompt ?? '',
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
    if (opts.json) printJson(spawnJson({ session: null, approval: result.value }));
    else out(`${result.value.directory} does not exist on ${where}; run again with --approve to create it\n`);
    process.exitCode = 1;
    return;
  }
  if (result?.$case !== 'session') throw new Error('hub returned an empty spawn outcome');
  const s = result.value;
  if (opts.json) return printJson(spawnJson({ session: sessionToCliJson(s), approval: null }));
  out(`started session ${s.id} (pid ${s.pid}, agent ${s.agent}) in ${s.directory} on ${where}\n`);
}

/**
 * `hapi stop [--machine m] <session>`. Without --machine the session is looked up among every
 * machine's sessions (a unique id prefix is enough); one the hub does not know is NOT_FOUND.
 */
export async function stop(session: string, opts: { machine?: string; json?: boolean }): Promise<void> {
  const { sessionId, r } = await withHub(creds(), async (c) => {
    let machineId: string;
    let sessionId: string;
    if (opts.machine !== undefined) {
      machineId = (await resolveMachine(c.hub, opts.machine)).id;
      sessionId = await resolveSessionId(c.hub, machineId, session);
    } else {
      const found = await resolveSessionAnywhere(c.hub, session);
      machineId = found.machineId;
      sessionId = found.id;
    }
    return { sessionId, r: await c.hub.stopSession({ machineId, sessionId }, { signal: timeout() }) };
  });
  const result = stopResultFromProto(r.result);
  if (opts.json) return printJson({ result, sessionId });
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

/**
 * How long `hapi attach --machine` keeps attaching again after its stream to the hub dropped (a
 * hub restart): as long as the hub itself waits for a runner to come back
 * (HAPI_HUB_ATTACH_RESUME_MS' default), so a restart of either end is ridden out.
 */
const HUB_REATTACH_MS = 30_000;

/** A session's screen and, once it ended, how, through the hub. */
async function remoteScreen(c: HubCredentials, machineId: string, sessionId: string): Promise<SessionScreenInfo> {
  const r = await withHub(c, (h) => h.hub.getSessionScreen({ machineId, sessionId }, { signal: timeout() }));
  return r.screen ? sessionScreenFromProto(r.screen) : { ended: false };
}

/** Prints an ended session's final screen and how it ended; returns its exit code. */
function showEnded(id: string, ended: SessionScreenInfo, withScreen: boolean): number {
  if (withScreen && ended.screen) out(`${ended.screen.ansi}\x1b[0m\n`);
  process.stderr.write(`${withScreen ? '' : '\n'}${endedLine(id, ended.exitStatus)}\n`);
  return ended.exitStatus ? exitCodeOfStatus(ended.exitStatus) : 1;
}

/**
 * `hapi attach --machine m <session> [--read-only]`: this terminal as a viewer of a session of
 * any machine of the hub, with what `hapi attach` does locally (raw mode, detach key, resize,
 * the terminal restored, the session's exit code). A read-only token watches read-only. Exit
 * codes before attaching: 2 ambiguous or missing, 3 hub or machine unreachable, 4 unknown.
 */
export async function attachRemote(session: string | undefined, opts: { machine: string; readOnly?: boolean }): Promise<number> {
  const { detachKey } = attachConfig();
  if (session === undefined) {
    throw new InvalidArgumentError(`name a session: hapi attach --machine ${opts.machine} <session> (see hapi sessions --machine ${opts.machine})`);
  }
  const c = creds();
  const { machineId, sessionId, scope, screen } = await withHub(c, async (h) => {
    const machine = await resolveMachine(h.hub, opts.machine);
    const sessionId = await resolveSessionId(h.hub, machine.id, session);
    // The runner holds the truth: an unknown session is NOT_FOUND (exit 4) before the terminal
    // changes mode, and an ended one shows its final screen.
    const [who, screen] = await Promise.all([
      h.hub.whoAmI({}, { signal: timeout() }),
      h.hub.getSessionScreen({ machineId: machine.id, sessionId }, { signal: timeout() }),
    ]);
    return { machineId: machine.id, sessionId, scope: tokenScopeFromProto(who.scope), screen: screen.screen && sessionScreenFromProto(screen.screen) };
  });
  if (screen?.ended) return showEnded(sessionId, screen, true);
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new InvalidArgumentError('hapi attach needs a terminal; from a script, use hapi screen --machine and hapi send --machine');
  }
  const readOnly = opts.readOnly === true || scope === 'read-only';
  const key = detachKey === undefined ? '' : `; detach with ^${String.fromCharCode(detachKey === 0x7f ? 0x3f : detachKey + 0x40)}`;
  const readOnlyNotice = readOnly ? `${scope === 'read-only' ? 'read-only token' : 'read-only (--read-only)'}: keys are not sent${key}` : undefined;
  const transport = createHubTransport({ hubUrl: c.url, token: c.token!, machineId, sessionId });
  let outcome;
  try {
    outcome = await attachTerminal({ transport, readOnly, detachKey, reconnectForMs: HUB_REATTACH_MS, readOnlyNotice });
  } catch (err) {
    // The session may have ended without its stream saying so (killed): the runner knows how.
    const ended = isHapiError(err) ? await remoteScreen(c, machineId, sessionId).catch(() => undefined) : undefined;
    if (!ended?.ended) throw err;
    return showEnded(sessionId, ended, false);
  }
  if (outcome.kind === 'exited') {
    process.stderr.write(`\n${endedLine(sessionId, outcome.status)}\n`);
    return exitCodeOfStatus(outcome.status);
  }
  if (!outcome.hangup) {
    process.stderr.write(`\n[detached from session ${sessionId}; it keeps running. Back with: hapi attach --machine ${machineId} ${sessionId}]\n`);
  }
  return 0;
}

/** `hapi send --machine m <session> <text>`: types through the hub. */
export async function sendRemote(session: string, text: string, opts: { machine: string; enter?: boolean }): Promise<void> {
  await withHub(creds(), async (c) => {
    const machine = await resolveMachine(c.hub, opts.machine);
    const sessionId = await resolveSessionId(c.hub, machine.id, session);
    await c.hub.sendInput({ machineId: machine.id, sessionId, input: { data: Buffer.alloc(0), text, enter: opts.enter === true } }, { signal: timeout() });
  });
}
