/**
 * Which machines are online. A machine is online while its runner's stream is open and alive
 * messages keep coming: it goes offline at once when the stream ends, and when the sweeper
 * finds no alive message within the timeout. A newer stream for the same machine replaces the
 * older one (the runner reconnected before the old stream was noticed dead).
 *
 * Alive messages only touch memory, never the database: an online machine's last-alive time
 * is the one in memory (withLastAlive); the store gets it with the offline mark when the stream
 * ends, and the machine's record is written once per connect. A hub that dies loses nothing
 * that matters: the next start marks every machine offline. Offline marks are retried with backoff while the store is unavailable (presence-writes.ts); meanwhile
 * reads show the machine offline from memory.
 */
import type { Logger } from 'pino';
import { AbortedError, FailedPreconditionError, PermissionDeniedError, UnavailableError, type HapiError } from '../../shared/errors.js';
import type { MachineOwnershipStore, MachineStore, NamespaceStore, TransactionStores, UnitOfWork } from './ports.js';
import { randomUUID } from 'node:crypto';
import { createAttachStreams, type AttachStreams } from './attach-streams.js';
import { createPendingRequests, type PendingRequests } from './relay.js';
import type { Caller, HelloInfo, HubEvent, MachineRecord, RunnerSink } from './types.js';
import { applyReported, lostRunnerState } from './versioned.js';
import { createPresenceWrites } from './presence-writes.js';

/**
 * How often runners are asked to send MachineAlive (the Welcome tells them): 20 s for the
 * default 45 s timeout, proportionally less for a shorter timeout, so two alive messages can
 * be lost before a healthy machine is marked offline.
 */
export function aliveIntervalFor(aliveTimeoutMs: number): number {
  return Math.max(50, Math.min(20_000, Math.floor((aliveTimeoutMs * 4) / 9)));
}

/** How often the sweeper runs: a fifth of the timeout, between 50 ms and 1 s. */
export function sweepIntervalFor(aliveTimeoutMs: number): number {
  return Math.max(50, Math.min(1_000, Math.floor(aliveTimeoutMs / 5)));
}

/** One runner stream, bound to its machine and namespace at connect time. */
export interface Connection {
  readonly machineId: string;
  readonly namespace: string;
  readonly tokenId: string;
  /** The hello's install fingerprint ('' = unknown). */
  readonly installFingerprint: string;
  /** The host name the hello reported (for the message refusing another install). */
  readonly hostname: string;
  readonly sink: RunnerSink;
  /** Requests relayed down this stream that await an answer. */
  readonly pending: PendingRequests;
  /** Random id of this stream (Welcome.link_id): attach streams name it. */
  readonly linkId: string;
  /** The hello's capabilities (e.g. "attach-stream"). */
  readonly capabilities: readonly string[];
  /** Attach streams asked for on this stream; they end with it. */
  readonly attaches: AttachStreams;
  readonly lastAlive: Date;
  /** The owner epoch this stream claimed (several replicas; 0 for a single hub): writes for the machine are checked against it. */
  readonly epoch: number;
  /** Set once the stream ended or was replaced; nothing it sends counts any more. */
  readonly detached: boolean;
}

export interface Presence {
  /**
   * Marks the machine online (creating it on first contact, taking the hello's metadata and
   * runner state) and binds the stream to it, replacing an older stream of the same install
   * (a restart or reconnect). PermissionDenied when the machine id belongs to another
   * namespace; FailedPrecondition when another install with this machine id is online.
   */
  connect(caller: Caller, hello: HelloInfo, sink: RunnerSink): Promise<{ conn: Connection; machine: MachineRecord }>;
  /** An alive message arrived on this stream. */
  alive(conn: Connection): void;
  /** The stream ended (either side): the machine goes offline unless a newer stream replaced it. Idempotent; never throws. */
  detach(conn: Connection, reason: string): void;
  /** The current stream of an online machine. */
  get(machineId: string): Connection | undefined;
  /** Every open stream (draining, giving them up). */
  all(): Connection[];
  /** The record with what memory knows better: the last-alive time when online, an offline mark not saved yet. */
  withLastAlive(m: MachineRecord): MachineRecord;
  readonly size: number;
  /** Runner-opened attach streams of the open links, open or awaited. */
  readonly attachStreams: number;
  /** Open streams' pending relayed requests. */
  readonly pendingRequests: number;
  /**
   * Stops the sweeper, detaches every stream and closes it with Unavailable; resolves once their
   * offline marks were saved (or could not be, within CLOSE_FLUSH_MS), so the store may close then.
   */
  close(): Promise<void>;
}

/** How long closing waits for the streams' offline marks to be saved. */
export const CLOSE_FLUSH_MS = 2_000;

export interface PresenceOptions {
  store: MachineStore & NamespaceStore & MachineOwnershipStore & UnitOfWork;
  /**
   * Set on one of several replicas (src/hub/cluster/): each connect claims the machine for this
   * replica with the next owner epoch, in the transaction that marks it online; an offline mark
   * is saved only while the epoch is still this stream's; and the start marks nothing offline
   * (the other replicas' machines are online; the registry reaps a dead replica's).
   */
  ownership?: { replicaId: string };
  publish(namespace: string, event: HubEvent): void;
  log: Logger;
  now: () => Date;
  aliveTimeoutMs: number;
}

interface Conn extends Connection {
  lastAlive: Date;
  detached: boolean;
}

/** The record as memory knows it better: an offline mark that is not saved yet. */
function overlay(m: MachineRecord, mark: { at: Date; lastAlive: Date } | undefined): MachineRecord {
  if (!mark || !m.online) return m;
  const runnerState = lostRunnerState(m.runnerState, mark.at);
  const runnerStateVersion = m.runnerStateVersion + (runnerState === m.runnerState ? 0 : 1);
  return { ...m, online: false, onlineSince: mark.at, lastAlive: mark.lastAlive, runnerState, runnerStateVersion };
}

/**
 * Starts presence on a hub that just started: nobody is connected to it yet, so every machine
 * is marked offline first.
 */
export async function createPresence(opts: PresenceOptions): Promise<Presence> {
  const { store, publish, log, now, aliveTimeoutMs } = opts;
  const connections = new Map<string, Conn>();
  /** Namespaces known to exist (a machine was recorded in one). */
  const namespaces = new Set<string>();

  const wentOffline = opts.ownership ? 0 : await store.markAllOffline(now());
  if (wentOffline > 0) log.info({ machines: wentOffline }, 'marked machines offline until their runners reconnect');

  const sweeper = setInterval(sweep, sweepIntervalFor(aliveTimeoutMs));
  sweeper.unref();
  const writes = createPresenceWrites({
    store,
    log,
    now,
    isConnected: (id) => connections.has(id),
    initialRetryMs: sweepIntervalFor(aliveTimeoutMs),
  });

  /** Saves pending presence writes (unless backing off) and publishes the machines marked offline. */
  function flush(): Promise<void> {
    return writes.flush().then((saved) => {
      for (const m of saved) publish(m.namespace, { type: 'machine', machine: m });
    });
  }

  /** Ends a stream's part: what it still waits for fails with `err`. False if it had ended already. */
  function end(conn: Conn, err: HapiError): boolean {
    if (conn.detached) return false;
    conn.detached = true;
    conn.pending.rejectAll(err);
    conn.attaches.closeAll(err);
    return true;
  }

  let closing = false;
  /** Detaches the stream; resolves once its offline mark was saved (or published unsaved). */
  function detach(conn: Conn, reason: string): Promise<void> | undefined {
    if (!end(conn, new UnavailableError(`machine ${conn.machineId} disconnected before answering`))) return;
    if (connections.get(conn.machineId) !== conn) return;
    connections.delete(conn.machineId);
    const mark = { at: now(), lastAlive: conn.lastAlive, epoch: opts.ownership ? conn.epoch : undefined };
    writes.offline(conn.machineId, mark);
    log.info({ machineId: conn.machineId, namespace: conn.namespace, reason }, 'machine offline');
    return flush().then(async () => {
      // Closing: nobody watches any more, and the store is about to close.
      if (closing || writes.pendingOffline(conn.machineId) !== mark) return;
      // Not saved yet (the store is busy): watchers hear it now, the store when a retry succeeds.
      try {
        const m = await store.getMachine(conn.machineId);
        if (m?.online && writes.pendingOffline(conn.machineId) === mark) publish(m.namespace, { type: 'machine', machine: overlay(m, mark) });
      } catch (err) {
        log.warn({ err, machineId: conn.machineId }, 'could not read the machine to publish it offline');
      }
    });
  }

  function sweep(): void {
    const t = now().getTime();
    for (const conn of connections.values()) {
      if (t - conn.lastAlive.getTime() > aliveTimeoutMs) {
        log.info({ machineId: conn.machineId, lastAlive: conn.lastAlive }, 'no alive message in time: machine offline');
        detach(conn, 'alive timeout');
        conn.sink.close(new UnavailableError(`no alive message for ${aliveTimeoutMs} ms`));
      }
    }
    void flush();
  }

  /**
   * Two installs with one machine id (a cloned machine, a copied HAPI_HOME) would replace each
   * other's stream forever: the one online keeps it, the other is told why and what to run.
   */
  function refuseAnotherInstall(current: Conn | undefined, hello: HelloInfo): void {
    if (!current || current.detached || !current.installFingerprint || !hello.installFingerprint) return;
    if (current.installFingerprint === hello.installFingerprint) return;
    log.warn({ machineId: hello.machineId, online: current.hostname, refused: hello.metadata.hostname }, 'refused another install using the machine id of an online one');
    throw new FailedPreconditionError(
      `machine id ${hello.machineId} is already online from another install (host "${current.hostname}"): ` +
        'this HAPI_HOME or machine was probably copied or cloned. Give this install its own id with ' +
        '`hapi runner reset-machine-id`, then restart its runner (`hapi runner stop && hapi runner start`)',
      { reason: 'MACHINE_ID_IN_USE', machineId: hello.machineId },
    );
  }

  async function online(caller: Caller, hello: HelloInfo, t: Date): Promise<{ machine: MachineRecord; epoch: number }> {
    const done = await store.transaction(async (tx) => {
      const machine = await record(tx, caller, hello, t);
      // Claimed with the online mark, in one transaction: never online without an owner.
      const epoch = opts.ownership ? ((await tx.claimMachine(hello.machineId, opts.ownership.replicaId)) ?? 0) : 0;
      return { machine, epoch };
    });
    // Committed: the namespace exists (namespaces are never deleted).
    namespaces.add(caller.namespace);
    return done;
  }

  /** Creates the machine on first contact, or takes the hello's values; marks it online. */
  async function record(tx: TransactionStores, caller: Caller, hello: HelloInfo, t: Date): Promise<MachineRecord> {
    const existing = await tx.getMachine(hello.machineId);
    if (existing && existing.namespace !== caller.namespace) {
      throw new PermissionDeniedError(`machine ${hello.machineId} belongs to another namespace`);
    }
    if (!existing) {
      // Once per namespace and process: a herd of new machines does not ask again each time.
      if (!namespaces.has(caller.namespace)) await tx.ensureNamespace(caller.namespace);
      const m: MachineRecord = {
        id: hello.machineId,
        namespace: caller.namespace,
        metadata: hello.metadata,
        metadataVersion: 1,
        runnerState: hello.runnerState,
        runnerStateVersion: 1,
        online: true,
        lastAlive: t,
        onlineSince: t,
      };
      await tx.insertMachine(m);
      return m;
    }
    const m = existing;
    applyReported(m, 'metadata', hello.metadata);
    applyReported(m, 'runner-state', hello.runnerState);
    if (!m.online) m.onlineSince = t;
    m.online = true;
    m.lastAlive = t;
    await tx.saveMachine(m);
    return m;
  }

  return {
    async connect(caller, hello, sink) {
      const t = now();
      refuseAnotherInstall(connections.get(hello.machineId), hello);
      // Cancelled before the write: a flush running meanwhile must not mark it offline after it.
      writes.cancelOffline(hello.machineId);
      const { machine, epoch } = await online(caller, hello, t);
      writes.cancelOffline(hello.machineId);
      // Another stream may have connected while this one was being recorded.
      refuseAnotherInstall(connections.get(hello.machineId), hello);
      const previous = connections.get(hello.machineId);
      const conn: Conn = {
        machineId: hello.machineId,
        namespace: caller.namespace,
        tokenId: caller.tokenId,
        installFingerprint: hello.installFingerprint,
        hostname: hello.metadata.hostname,
        sink,
        pending: createPendingRequests({ machineId: hello.machineId, log, now }),
        linkId: randomUUID(),
        capabilities: hello.capabilities,
        attaches: createAttachStreams(),
        lastAlive: t,
        epoch,
        detached: false,
      };
      connections.set(hello.machineId, conn);
      if (previous) {
        // Ended before it closes, so its end does not mark the machine offline.
        end(previous, new UnavailableError(`machine ${previous.machineId} reconnected before answering`));
        previous.sink.close(new AbortedError('replaced by a newer stream for the same machine'));
        log.info({ machineId: hello.machineId }, 'a newer stream replaced the previous one');
      }
      publish(caller.namespace, { type: 'machine', machine });
      return { conn, machine };
    },

    alive(conn) {
      const c = conn as Conn;
      c.lastAlive = now();
    },

    detach: (conn, reason) => void detach(conn as Conn, reason),

    get(machineId) {
      return connections.get(machineId);
    },

    all: () => [...connections.values()],

    withLastAlive(m) {
      const conn = connections.get(m.id);
      return conn ? { ...m, lastAlive: conn.lastAlive } : overlay(m, writes.pendingOffline(m.id));
    },

    get size() {
      return connections.size;
    },

    get attachStreams() {
      let n = 0;
      for (const c of connections.values()) n += c.attaches.size;
      return n;
    },

    get pendingRequests() {
      let n = 0;
      for (const c of connections.values()) n += c.pending.size;
      return n;
    },

    async close() {
      clearInterval(sweeper);
      closing = true;
      const saving: Promise<void>[] = [];
      for (const conn of [...connections.values()]) {
        const saved = detach(conn, 'hub shutting down');
        if (saved) saving.push(saved.catch(() => undefined));
        conn.sink.close(new UnavailableError('hub is shutting down'));
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(saving), new Promise<void>((r) => (timer = setTimeout(r, CLOSE_FLUSH_MS)))]);
      clearTimeout(timer);
      if (writes.pending > 0) log.warn({ pending: writes.pending }, 'presence writes not saved at shutdown; the next start marks every machine offline');
    },
  };
}
