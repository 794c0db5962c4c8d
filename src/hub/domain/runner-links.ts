/**
 * The runner's side of the hub's facade (MachineService.Connect): a runner's hello (checked,
 * its sessions reconciled, answered with a welcome), and the link the transport feeds what the
 * runner sends afterwards: alive messages, versioned updates (answered on its stream), answers
 * to relayed requests, session events and activity. With replicas, every write for the machine
 * is fenced by the stream's owner epoch (src/hub/cluster/replica-streams.ts). What a client asks
 * of a machine (the relayed calls) stays in hub-core.ts.
 */
import type { Logger } from 'pino';
import { FailedPreconditionError, InvalidArgumentError, UnavailableError } from '../../shared/errors.js';
import type { ConnectGate } from './connect-gate.js';
import { PROTOCOL_VERSION, type SessionInfo } from '../../contract/types.js';
import { quoteValue, sessionProblem } from '../../contract/limits.js';
import type { MachineLink } from './hub-core-api.js';
import type { TransactionStores } from './ports.js';
import { aliveIntervalFor, type Connection, type Presence } from './presence.js';
import type { ActivityBook } from './session-activity.js';
import { createSessionBook, type SessionBook } from './session-book.js';
import { requireScope } from './scopes.js';
import type { Caller, HelloInfo, HubEvent, RunnerBound, RunnerSink } from './types.js';
import { applyVersionedUpdate, type VersionedKind, type VersionedValues } from './versioned.js';

export interface RunnerLinksOptions {
  presence: Presence;
  sessions: SessionBook;
  activity: ActivityBook;
  publish(namespace: string, event: HubEvent): void;
  /** Runs a write for the stream's machine, fenced by its owner epoch (ReplicaStreams.fenced). */
  fenced<T>(conn: Connection, work: (tx: TransactionStores) => Promise<T>): Promise<T>;
  log: Logger;
  now: () => Date;
  aliveTimeoutMs: number;
  /** One of several replicas: session events are written fenced, in a transaction of their own. */
  clustered: boolean;
  /** Admission control: a hello's database part runs when the gate gives it a turn (connect-gate.ts). */
  connects: ConnectGate;
  /** True once the hub shuts down or drains: a hello whose turn comes then is refused. */
  refusing(): boolean;
}

/**
 * What a runner reports is stored only when it follows the session rules (one id rule, bounded
 * texts: src/contract/limits.ts); anything else is dropped and logged, never stored.
 */
export function acceptableSessions(log: Pick<Logger, 'warn'>, machineId: string, list: SessionInfo[], from: string): SessionInfo[] {
  return list.filter((s) => {
    const problem = sessionProblem(s);
    if (problem) log.warn({ machineId, from, sessionId: quoteValue(s.id), problem }, 'dropped a session that breaks the session rules');
    return !problem;
  });
}

/**
 * The welcome is the first message on a runner's stream (the runner takes anything else first
 * for a broken hello and drops the stream). The stream is the machine's as soon as presence
 * has it, while the hello's sessions are still being recorded: a call relayed, an attach
 * asked for or a Drain sent meanwhile waits here and follows the welcome, in order.
 */
function welcomeFirst(sink: RunnerSink): { sink: RunnerSink; welcome(w: RunnerBound): void } {
  let waiting: RunnerBound[] | undefined = [];
  return {
    sink: {
      send: (m) => (waiting ? void waiting.push(m) : sink.send(m)),
      close: (err) => sink.close(err),
    },
    welcome(w) {
      const after = waiting ?? [];
      waiting = undefined;
      sink.send(w);
      for (const m of after) sink.send(m);
    },
  };
}

/**
 * Returns the hello's handler: it binds the stream to its machine (presence), records what the
 * runner runs now, welcomes it, and returns the machine's link. The caller refuses hellos while
 * the hub shuts down or drains.
 */
export function createRunnerLinks(o: RunnerLinksOptions): (caller: Caller, hello: HelloInfo, sink: RunnerSink, signal?: AbortSignal) => Promise<MachineLink> {
  const { presence, sessions, activity, publish, fenced, log, now } = o;

  /** The one versioned update of a machine's value, answered on the runner's stream. */
  async function updateVersioned<K extends VersionedKind>(conn: Connection, kind: K, expectedVersion: number, value: VersionedValues[K]): Promise<void> {
    if (conn.detached) return;
    const done = await fenced(conn, async (tx) => {
      const m = await tx.getMachine(conn.machineId);
      if (!m) return undefined;
      const outcome = applyVersionedUpdate(m, kind, expectedVersion, value);
      if (outcome.applied) await tx.saveMachine(m);
      return { m, outcome };
    });
    if (!done) return;
    if (done.outcome.applied) publish(done.m.namespace, { type: 'machine', machine: done.m });
    conn.sink.send({ type: 'update-result', kind, outcome: done.outcome } as RunnerBound);
  }

  return async function attachMachine(caller, hello, sink, signal) {
    // Registering a machine and answering for it is a write: a read-only token only looks.
    requireScope(caller, 'connect-runner');
    if (!hello.machineId) throw new InvalidArgumentError('hello.machine_id is required');
    if (hello.machineId.length > 200) throw new InvalidArgumentError('hello.machine_id is too long');
    if (hello.protocolVersion !== PROTOCOL_VERSION) {
      throw new FailedPreconditionError(`unsupported protocol version ${hello.protocolVersion}; this hub speaks ${PROTOCOL_VERSION}`);
    }
    const reported = acceptableSessions(log, hello.machineId, hello.sessions, 'hello');
    const stream = welcomeFirst(sink);
    // The database part, a bounded number at once (connect-gate.ts: a herd of runners reconnecting).
    const { conn, machine } = await o.connects.run(async () => {
      if (o.refusing()) throw new UnavailableError('hub is shutting down');
      const done = await presence.connect(caller, hello, stream.sink);
      try {
        // What the runner has now is the truth for this machine.
        await sessions.reconcile(caller.namespace, hello.machineId, reported, done.conn.lastAlive);
      } catch (err) {
        // Not recorded (e.g. the store is busy): refuse the stream; the runner's next hello retries.
        presence.detach(done.conn, 'hello not recorded');
        throw err;
      }
      return done;
    }, signal);
    stream.welcome({
      type: 'welcome',
      namespace: caller.namespace,
      metadataVersion: machine.metadataVersion,
      runnerStateVersion: machine.runnerStateVersion,
      aliveIntervalMs: aliveIntervalFor(o.aliveTimeoutMs),
      protocolVersion: PROTOCOL_VERSION,
      linkId: conn.linkId,
    });
    log.info({ machineId: hello.machineId, namespace: caller.namespace, sessions: reported.length }, 'machine online');

    return {
      machineId: conn.machineId,
      namespace: conn.namespace,
      alive: () => presence.alive(conn),
      updateMetadata: (expectedVersion, metadata) => updateVersioned(conn, 'metadata', expectedVersion, metadata),
      updateRunnerState: (expectedVersion, state) => updateVersioned(conn, 'runner-state', expectedVersion, state),
      rpcResult: (requestId, result) => conn.pending.answer(requestId, result),
      async sessionEvent(kind, session) {
        if (conn.detached || acceptableSessions(log, conn.machineId, [session], 'session event').length === 0) return;
        if (kind === 'ended') activity.forget(conn.namespace, conn.machineId, session.id);
        if (!o.clustered) return sessions.event(conn.namespace, conn.machineId, kind, session, now());
        await fenced(conn, (tx) => createSessionBook({ store: tx, publish }).event(conn.namespace, conn.machineId, kind, session, now()));
      },
      async sessionActivity(entries) {
        if (!conn.detached) await activity.record(conn.namespace, conn.machineId, entries);
      },
      detach: (reason) => presence.detach(conn, reason),
    };
  };
}
