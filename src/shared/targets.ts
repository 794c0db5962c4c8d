/**
 * What a `--machine <m>` or `<session>` argument names: the one resolver per kind, for every
 * command that takes one, on the hub (spawn, stop, sessions, attach/screen/send --machine) and on
 * this machine (attach, screen, send, runner stop-session). Pure functions over what the hub or
 * the runner lists, so the rules are unit-tested (targets.test.ts):
 * - a machine: its id, a unique id prefix, or its display name (or host name, any case);
 * - a session: its id, or a unique id prefix (the short ids the web page shows).
 * Ambiguous: InvalidArgumentError listing the candidates (exit 2). Unknown: NotFoundError (exit 4).
 */
import { InvalidArgumentError, NotFoundError } from './errors.js';

/** What the resolver needs of a machine (HubService's Machine has these). */
export interface MachineChoice {
  id: string;
  online: boolean;
  metadata?: { displayName: string; hostname: string };
}

/** What the resolver needs of a session (HubService's and RunnerService's sessions have these). */
export interface SessionChoice {
  id: string;
  /** The hub's machine id; '' for a session of this machine. */
  machineId: string;
  /** Still starting or running. */
  live: boolean;
  /** What tells it apart in a list of candidates (`running, pid 123, ~/src/app`); optional. */
  label?: string;
}

/** At most this many candidates are named in an error; the rest are counted. */
const LISTED = 10;

/** A machine's name as lists show it: its display name, else its hostname ('' when it has neither). */
export function machineName(m: Pick<MachineChoice, 'metadata'>): string {
  return m.metadata?.displayName || m.metadata?.hostname || '';
}

function describeMachine(m: MachineChoice): string {
  const name = machineName(m);
  return `${m.id}${name ? ` (${name}, ${m.online ? 'online' : 'offline'})` : ` (${m.online ? 'online' : 'offline'})`}`;
}

function listed(items: string[]): string {
  const shown = items.slice(0, LISTED).map((s) => `  ${s}`);
  if (items.length > LISTED) shown.push(`  ... and ${items.length - LISTED} more`);
  return shown.join('\n');
}

function describeSession(s: SessionChoice): string {
  const about = [s.machineId && `machine ${s.machineId}`, s.label].filter(Boolean).join(', ');
  return about ? `${s.id} (${about})` : s.id;
}

/** The machine `arg` names among `machines` (one namespace's, from ListMachines). */
export function pickMachine<M extends MachineChoice>(machines: readonly M[], arg: string): M {
  const wanted = arg.trim();
  if (!wanted) throw new InvalidArgumentError('--machine needs a machine id, id prefix or name');
  const exact = machines.find((m) => m.id === wanted);
  if (exact) return exact;
  const lower = wanted.toLowerCase();
  const candidates = machines.filter(
    (m) => m.id.startsWith(wanted) || m.metadata?.displayName.toLowerCase() === lower || m.metadata?.hostname.toLowerCase() === lower,
  );
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) {
    throw new NotFoundError(`no machine matches ${JSON.stringify(wanted)} (by id, id prefix or name); see \`hapi machines\``, { machine: wanted });
  }
  throw new InvalidArgumentError(
    `--machine ${JSON.stringify(wanted)} matches ${candidates.length} machines; give its id or a longer prefix:\n${listed(candidates.map(describeMachine))}`,
    { machine: wanted, candidates: candidates.map((m) => m.id) },
  );
}

/**
 * The session `arg` names among `sessions` (from ListSessions, ended ones included): its id, or
 * an id prefix unique among the live sessions (or, when no live one has it, among the ended).
 * Undefined when nothing matches: the caller passes `arg` on as it is and the runner, which
 * holds the truth, answers (a session the hub has not heard of yet, say).
 */
export function pickSession<S extends SessionChoice>(sessions: readonly S[], arg: string): S | undefined {
  const wanted = arg.trim();
  if (!wanted) throw new InvalidArgumentError('a session id or id prefix is required');
  const exact = sessions.find((s) => s.id === wanted);
  if (exact) return exact;
  const matching = sessions.filter((s) => s.id.startsWith(wanted));
  const live = matching.filter((s) => s.live);
  const candidates = live.length > 0 ? live : matching;
  if (candidates.length <= 1) return candidates[0];
  throw new InvalidArgumentError(
    `session ${JSON.stringify(wanted)} matches ${candidates.length} sessions; give a longer prefix:\n${listed(candidates.map(describeSession))}`,
    { session: wanted, candidates: candidates.map((s) => s.id) },
  );
}
