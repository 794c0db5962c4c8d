/**
 * The hub's domain logic, shared by every transport (gRPC HubService/TokenService/
 * MachineService and the REST view): tokens and namespaces, machine presence, versioned
 * updates, the RPC relay down runner streams, session bookkeeping and the change feed for
 * watchers. Plain TypeScript over a HubStore; transports only convert and delegate.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  AbortedError,
  DeadlineExceededError,
  FailedPreconditionError,
  HapiError,
  InvalidArgumentError,
  isHapiError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
} from '../../shared/errors.js';
import { createAsyncQueue, type AsyncQueue } from '../../shared/async-queue.js';
import {
  PROTOCOL_VERSION,
  type MachineMetadataInfo,
  type RelayCall,
  type RelayResult,
  type RunnerStateInfo,
  type RunnerStatusReportInfo,
  type SessionInfo,
  type SpawnOutcome,
  type SpawnSpec,
} from '../../contract/types.js';
import type { HubStore } from './ports.js';
import {
  DEFAULT_NAMESPACE,
  NAMESPACE_PATTERN,
  type Caller,
  type HubEvent,
  type HubSession,
  type MachineRecord,
  type TokenRecord,
  type UpdateOutcome,
} from './types.js';

/**
 * How often runners are asked to send MachineAlive (the Welcome tells them): 20 s for the
 * default 45 s timeout, proportionally less for a shorter timeout, so two alive messages can
 * be lost before a healthy machine is marked offline.
 */
export function aliveIntervalFor(aliveTimeoutMs: number): number {
  return Math.max(50, Math.min(20_000, Math.floor((aliveTimeoutMs * 4) / 9)));
}

export interface HubCoreOptions {
  store: HubStore;
  log: Logger;
  aliveTimeoutMs: number;
  spawnDeadlineMs: number;
  rpcDeadlineMs: number;
  /** Injectable clock (tests). */
  now?: () => Date;
}

/** What the hub sends down a runner's stream (converted to ConnectResponse by the transport). */
export type RunnerBound =
  | { type: 'welcome'; namespace: string; metadataVersion: number; runnerStateVersion: number; aliveIntervalMs: number; protocolVersion: number }
  | { type: 'update-result'; kind: 'metadata'; outcome: UpdateOutcome<MachineMetadataInfo> }
  | { type: 'update-result'; kind: 'runner-state'; outcome: UpdateOutcome<RunnerStateInfo> }
  | { type: 'rpc'; requestId: string; deadline: Date; call: RelayCall };

/** The transport side of one runner stream. */
export interface RunnerSink {
  send(msg: RunnerBound): void;
  /** Ends the stream with this error (status code from its kind). */
  close(err: HapiError): void;
}

export interface HelloInfo {
  machineId: string;
  metadata: MachineMetadataInfo;
  runnerState: RunnerStateInfo;
  protocolVersion: number;
  capabilities: string[];
  sessions: SessionInfo[];
}

/** The hub's handle on an attached runner stream; the transport feeds it what arrives. */
export interface MachineLink {
  readonly machineId: string;
  readonly namespace: string;
  alive(): void;
  updateMetadata(expectedVersion: number, metadata: MachineMetadataInfo): void;
  updateRunnerState(expectedVersion: number, state: RunnerStateInfo): void;
  rpcResult(requestId: string, result: RelayResult | HapiError): void;
  sessionEvent(kind: 'started' | 'ended' | 'adopted', session: SessionInfo): void;
  /** The stream ended (either side). Idempotent. */
  detach(reason: string): void;
}

interface Pending {
  resolve(r: RelayResult): void;
  reject(e: HapiError): void;
  timer: NodeJS.Timeout;
  method: RelayCall['method'];
}

interface Connection {
  id: number;
  machineId: string;
  namespace: string;
  tokenId: string;
  sink: RunnerSink;
  lastAlive: Date;
  aliveDirty: boolean;
  pending: Map<string, Pending>;
  detached: boolean;
}

export interface WatchFilter {
  machines?: boolean;
  sessions?: boolean;
  /** Only this machine's sessions. */
  machineId?: string;
}

export interface HubCore {
  // tokens
  /** Resolves a bearer token; UnauthenticatedError (no detail) for anything else. */
  authenticate(token: string | undefined): Caller;
  /** The caller of a token by its id (a stored web sign-in); UnauthenticatedError once revoked. */
  authenticateTokenId(tokenId: string): Caller;
  /** Creates the first owner token when none exists; returns its secret, or undefined. */
  bootstrapOwnerToken(): { tokenId: string; token: string } | undefined;
  createToken(caller: Caller, namespace: string, label: string): { tokenId: string; token: string; namespace: string };
  listTokens(caller: Caller): TokenRecord[];
  revokeToken(caller: Caller, tokenId: string): void;
  /** Calls `onRevoked` when the token is revoked; returns an unsubscribe function. */
  watchToken(tokenId: string, onRevoked: () => void): () => void;
  // machines and sessions
  listMachines(caller: Caller): MachineRecord[];
  getMachine(caller: Caller, machineId: string): MachineRecord;
  listSessions(caller: Caller, opts: { machineId?: string; includeEnded?: boolean }): HubSession[];
  /** Snapshot then live changes, until the signal aborts or the hub closes. */
  watch(caller: Caller, filter: WatchFilter, signal?: AbortSignal): AsyncIterable<HubEvent>;
  // runner streams
  attachMachine(caller: Caller, hello: HelloInfo, sink: RunnerSink): MachineLink;
  // relay
  spawnSession(caller: Caller, machineId: string, spec: SpawnSpec, signal?: AbortSignal): Promise<SpawnOutcome & { session?: HubSession }>;
  stopSession(caller: Caller, machineId: string, sessionId: string, signal?: AbortSignal): Promise<'stopped' | 'already-gone'>;
  stopRunner(caller: Caller, machineId: string, signal?: AbortSignal): Promise<void>;
  getRunnerStatus(caller: Caller, machineId: string, signal?: AbortSignal): Promise<RunnerStatusReportInfo>;
  /** Counts for logs and benchmarks. */
  stats(): { connections: number; watchers: number; pendingRpcs: number };
  /** Ends every runner stream and watcher and fails pending RPCs. */
  close(): void;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function newToken(): string {
  return `hapi_${randomBytes(32).toString('base64url')}`;
}

function newTokenId(): string {
  return `tok_${randomBytes(6).toString('hex')}`;
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function createHubCore(opts: HubCoreOptions): HubCore {
  const { store, aliveTimeoutMs } = opts;
  const log = opts.log.child({ c: 'hub-core' });
  const now = opts.now ?? (() => new Date());
  const connections = new Map<string, Connection>();
  const watchers = new Set<{ namespace: string; filter: WatchFilter; queue: AsyncQueue<HubEvent> }>();
  const tokenWatchers = new Map<string, Set<() => void>>();
  /** token hash -> caller; a revoked token is removed. */
  const tokenCache = new Map<string, Caller>();
  let connSeq = 0;
  let closed = false;

  // Nobody is connected to a hub that just started.
  const wentOffline = store.markAllOffline(now());
  if (wentOffline > 0) log.info({ machines: wentOffline }, 'marked machines offline until their runners reconnect');

  const sweepEveryMs = Math.max(50, Math.min(1_000, Math.floor(aliveTimeoutMs / 5)));
  const sweeper = setInterval(sweep, sweepEveryMs);
  sweeper.unref();

  function emit(namespace: string, event: HubEvent): void {
    for (const w of watchers) {
      if (w.namespace !== namespace) continue;
      if (event.type === 'machine' && !w.filter.machines) continue;
      if (event.type === 'session') {
        if (!w.filter.sessions) continue;
        if (w.filter.machineId && w.filter.machineId !== event.session.machineId) continue;
      }
      w.queue.push(event);
    }
  }

  function sweep(): void {
    const t = now();
    const alive: { id: string; lastAlive: Date }[] = [];
    for (const conn of connections.values()) {
      if (conn.aliveDirty) {
        conn.aliveDirty = false;
        alive.push({ id: conn.machineId, lastAlive: conn.lastAlive });
      }
      if (t.getTime() - conn.lastAlive.getTime() > aliveTimeoutMs) {
        log.info({ machineId: conn.machineId, lastAlive: conn.lastAlive }, 'no alive message in time: machine offline');
        const err = new UnavailableError(`no alive message for ${aliveTimeoutMs} ms`);
        detach(conn, 'alive timeout');
        conn.sink.close(err);
      }
    }
    try {
      store.saveLastAlive(alive);
    } catch (err) {
      log.error({ err }, 'could not persist last-alive times');
    }
  }

  function requireMachine(caller: Caller, machineId: string): MachineRecord {
    if (!machineId) throw new InvalidArgumentError('machine id is required');
    const m = store.getMachine(machineId);
    // Another namespace's machine is indistinguishable from a missing one.
    if (!m || m.namespace !== caller.namespace) throw new NotFoundError(`machine ${machineId} not found`);
    const conn = connections.get(machineId);
    if (conn) m.lastAlive = conn.lastAlive;
    return m;
  }

  function requireOwner(caller: Caller): void {
    if (!caller.owner) throw new PermissionDeniedError('only the owner token can manage tokens');
  }

  function saveAndEmitMachine(m: MachineRecord): void {
    store.saveMachine(m);
    emit(m.namespace, { type: 'machine', machine: m });
  }

  function upsertSession(namespace: string, machineId: string, s: SessionInfo): HubSession {
    const next: HubSession = { ...s, machineId, namespace };
    delete (next as Partial<SessionInfo>).logPath;
    delete (next as Partial<SessionInfo>).processStartTime;
    const prev = store.getSession(machineId, s.id);
    if (prev && sameJson(prev, next)) return prev;
    store.upsertSession(next);
    emit(namespace, { type: 'session', session: next });
    return next;
  }

  function detach(conn: Connection, reason: string): void {
    if (conn.detached) return;
    conn.detached = true;
    for (const [id, p] of conn.pending) {
      clearTimeout(p.timer);
      p.reject(new UnavailableError(`machine ${conn.machineId} disconnected before answering`));
      conn.pending.delete(id);
    }
    if (connections.get(conn.machineId) !== conn) return;
    connections.delete(conn.machineId);
    if (conn.aliveDirty) store.saveLastAlive([{ id: conn.machineId, lastAlive: conn.lastAlive }]);
    const m = store.getMachine(conn.machineId);
    if (m && m.online) {
      m.online = false;
      m.onlineSince = now();
      m.lastAlive = conn.lastAlive;
      saveAndEmitMachine(m);
    }
    log.info({ machineId: conn.machineId, namespace: conn.namespace, reason }, 'machine offline');
  }

  async function relay(caller: Caller, machineId: string, call: RelayCall, deadlineMs: number, signal?: AbortSignal): Promise<RelayResult> {
    requireMachine(caller, machineId);
    const conn = connections.get(machineId);
    if (!conn || conn.detached) throw new UnavailableError(`machine ${machineId} is offline`);
    signal?.throwIfAborted();
    const requestId = randomUUID();
    const deadline = new Date(Date.now() + deadlineMs);
    return new Promise<RelayResult>((resolve, reject) => {
      const onAbort = () => finish(() => reject(new AbortedError('call cancelled by the caller')));
      const finish = (fn: () => void) => {
        const p = conn.pending.get(requestId);
        if (!p) return;
        clearTimeout(p.timer);
        conn.pending.delete(requestId);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const timer = setTimeout(
        () => finish(() => reject(new DeadlineExceededError(`machine ${machineId} did not answer within ${deadlineMs} ms`))),
        deadlineMs,
      );
      conn.pending.set(requestId, {
        method: call.method,
        timer,
        resolve: (r) => finish(() => resolve(r)),
        reject: (e) => finish(() => reject(e)),
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      conn.sink.send({ type: 'rpc', requestId, deadline, call });
    });
  }

  function authenticate(token: string | undefined): Caller {
    if (!token) throw new UnauthenticatedError();
    const hash = hashToken(token);
    const cached = tokenCache.get(hash);
    if (cached) return cached;
    const rec = store.findTokenByHash(hash);
    if (!rec || rec.revokedAt) throw new UnauthenticatedError();
    const caller: Caller = { namespace: rec.namespace, owner: rec.owner, tokenId: rec.id };
    tokenCache.set(hash, caller);
    return caller;
  }

  function authenticateTokenId(tokenId: string): Caller {
    const rec = store.getToken(tokenId);
    if (!rec || rec.revokedAt) throw new UnauthenticatedError();
    return { namespace: rec.namespace, owner: rec.owner, tokenId: rec.id };
  }

  function insertToken(namespace: string, label: string, owner: boolean) {
    const token = newToken();
    const rec: TokenRecord = { id: newTokenId(), namespace, label, owner, createdAt: now() };
    store.transaction(() => {
      store.ensureNamespace(namespace);
      store.insertToken(rec, hashToken(token));
    });
    return { tokenId: rec.id, token, namespace };
  }

  const core: HubCore = {
    authenticate,
    authenticateTokenId,

    bootstrapOwnerToken() {
      if (store.countOwnerTokens() > 0) return undefined;
      const t = insertToken(DEFAULT_NAMESPACE, 'owner', true);
      log.info({ tokenId: t.tokenId }, 'created the owner token');
      return t;
    },

    createToken(caller, namespace, label) {
      requireOwner(caller);
      if (!NAMESPACE_PATTERN.test(namespace)) {
        throw new InvalidArgumentError(`namespace must match ${NAMESPACE_PATTERN.source}, got ${JSON.stringify(namespace)}`);
      }
      if (label.length > 200) throw new InvalidArgumentError('label must be at most 200 characters');
      const t = insertToken(namespace, label, false);
      log.info({ tokenId: t.tokenId, namespace }, 'token created');
      return t;
    },

    listTokens(caller) {
      requireOwner(caller);
      return store.listTokens();
    },

    revokeToken(caller, tokenId) {
      requireOwner(caller);
      const rec = store.getToken(tokenId);
      if (!rec || rec.revokedAt) throw new NotFoundError(`token ${tokenId} not found`);
      store.revokeToken(tokenId, now());
      for (const [hash, c] of tokenCache) if (c.tokenId === tokenId) tokenCache.delete(hash);
      const cbs = tokenWatchers.get(tokenId);
      tokenWatchers.delete(tokenId);
      log.info({ tokenId, openStreams: cbs?.size ?? 0 }, 'token revoked');
      for (const cb of cbs ?? []) cb();
    },

    watchToken(tokenId, onRevoked) {
      let set = tokenWatchers.get(tokenId);
      if (!set) tokenWatchers.set(tokenId, (set = new Set()));
      set.add(onRevoked);
      return () => {
        set.delete(onRevoked);
        if (set.size === 0 && tokenWatchers.get(tokenId) === set) tokenWatchers.delete(tokenId);
      };
    },

    listMachines(caller) {
      return store.listMachines(caller.namespace).map((m) => {
        const conn = connections.get(m.id);
        return conn ? { ...m, lastAlive: conn.lastAlive } : m;
      });
    },

    getMachine: requireMachine,

    listSessions(caller, o) {
      if (o.machineId) requireMachine(caller, o.machineId);
      return store.listSessions(caller.namespace, o);
    },

    watch(caller, filter, signal) {
      const queue = createAsyncQueue<HubEvent>({ limit: 10_000, signal });
      if (closed) {
        queue.end();
        return queue;
      }
      if (filter.machineId) requireMachine(caller, filter.machineId);
      const w = { namespace: caller.namespace, filter, queue };
      // Subscribe before reading the snapshot so no change falls in between.
      const snapshot: HubEvent[] = [];
      if (filter.machines) for (const m of core.listMachines(caller)) snapshot.push({ type: 'machine', machine: m });
      if (filter.sessions) {
        for (const s of store.listSessions(caller.namespace, { machineId: filter.machineId, includeEnded: false })) {
          snapshot.push({ type: 'session', session: s });
        }
      }
      for (const e of snapshot) queue.push(e);
      watchers.add(w);
      const cleanup = () => watchers.delete(w);
      signal?.addEventListener('abort', cleanup, { once: true });
      return {
        async *[Symbol.asyncIterator]() {
          try {
            yield* queue;
          } finally {
            cleanup();
          }
        },
      };
    },

    attachMachine(caller, hello, sink) {
      if (closed) throw new UnavailableError('hub is shutting down');
      if (!hello.machineId) throw new InvalidArgumentError('hello.machine_id is required');
      if (hello.machineId.length > 200) throw new InvalidArgumentError('hello.machine_id is too long');
      if (hello.protocolVersion !== PROTOCOL_VERSION) {
        throw new FailedPreconditionError(`unsupported protocol version ${hello.protocolVersion}; this hub speaks ${PROTOCOL_VERSION}`);
      }
      const t = now();
      const machine = store.transaction(() => {
        const existing = store.getMachine(hello.machineId);
        if (existing && existing.namespace !== caller.namespace) {
          throw new PermissionDeniedError(`machine ${hello.machineId} belongs to another namespace`);
        }
        if (!existing) {
          store.ensureNamespace(caller.namespace);
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
          store.insertMachine(m);
          return m;
        }
        const m = existing;
        if (!sameJson(m.metadata, hello.metadata)) {
          m.metadata = hello.metadata;
          m.metadataVersion += 1;
        }
        if (!sameJson(m.runnerState, hello.runnerState)) {
          m.runnerState = hello.runnerState;
          m.runnerStateVersion += 1;
        }
        if (!m.online) m.onlineSince = t;
        m.online = true;
        m.lastAlive = t;
        store.saveMachine(m);
        return m;
      });

      const previous = connections.get(hello.machineId);
      const conn: Connection = {
        id: ++connSeq,
        machineId: hello.machineId,
        namespace: caller.namespace,
        tokenId: caller.tokenId,
        sink,
        lastAlive: t,
        aliveDirty: false,
        pending: new Map(),
        detached: false,
      };
      connections.set(hello.machineId, conn);
      if (previous) {
        // Mark detached first so its end does not mark the machine offline.
        previous.detached = true;
        for (const [id, p] of previous.pending) {
          clearTimeout(p.timer);
          p.reject(new UnavailableError(`machine ${previous.machineId} reconnected before answering`));
          previous.pending.delete(id);
        }
        previous.sink.close(new AbortedError('replaced by a newer stream for the same machine'));
        log.info({ machineId: hello.machineId }, 'a newer stream replaced the previous one');
      }
      emit(caller.namespace, { type: 'machine', machine });

      // Reconcile sessions: what the runner has now is the truth for this machine.
      const reported = new Set(hello.sessions.map((s) => s.id));
      for (const s of hello.sessions) upsertSession(caller.namespace, hello.machineId, s);
      for (const s of store.liveSessionsOf(hello.machineId)) {
        if (reported.has(s.id)) continue;
        upsertSession(caller.namespace, hello.machineId, { ...s, state: 'ended', endedAt: s.endedAt ?? t });
      }

      sink.send({
        type: 'welcome',
        namespace: caller.namespace,
        metadataVersion: machine.metadataVersion,
        runnerStateVersion: machine.runnerStateVersion,
        aliveIntervalMs: aliveIntervalFor(aliveTimeoutMs),
        protocolVersion: PROTOCOL_VERSION,
      });
      log.info({ machineId: hello.machineId, namespace: caller.namespace, sessions: hello.sessions.length }, 'machine online');

      const current = () => (conn.detached ? undefined : store.getMachine(conn.machineId));
      return {
        machineId: conn.machineId,
        namespace: conn.namespace,
        alive() {
          conn.lastAlive = now();
          conn.aliveDirty = true;
        },
        updateMetadata(expectedVersion, metadata) {
          const m = current();
          if (!m) return;
          if (m.metadataVersion !== expectedVersion) {
            sink.send({ type: 'update-result', kind: 'metadata', outcome: { applied: false, currentVersion: m.metadataVersion, current: m.metadata } });
            return;
          }
          m.metadata = metadata;
          m.metadataVersion += 1;
          saveAndEmitMachine(m);
          sink.send({ type: 'update-result', kind: 'metadata', outcome: { applied: true, version: m.metadataVersion } });
        },
        updateRunnerState(expectedVersion, state) {
          const m = current();
          if (!m) return;
          if (m.runnerStateVersion !== expectedVersion) {
            sink.send({
              type: 'update-result',
              kind: 'runner-state',
              outcome: { applied: false, currentVersion: m.runnerStateVersion, current: m.runnerState },
            });
            return;
          }
          m.runnerState = state;
          m.runnerStateVersion += 1;
          saveAndEmitMachine(m);
          sink.send({ type: 'update-result', kind: 'runner-state', outcome: { applied: true, version: m.runnerStateVersion } });
        },
        rpcResult(requestId, result) {
          const p = conn.pending.get(requestId);
          if (!p) {
            log.debug({ machineId: conn.machineId, requestId }, 'answer to an unknown or expired request');
            return;
          }
          if (isHapiError(result)) return p.reject(result);
          if (result.method !== p.method) {
            return p.reject(new HapiError('Internal', `runner answered ${p.method} with ${result.method}`));
          }
          p.resolve(result);
        },
        sessionEvent(kind, session) {
          if (conn.detached) return;
          if (!session.id) return;
          const s = kind === 'ended' && session.state !== 'ended' ? { ...session, state: 'ended' as const, endedAt: session.endedAt ?? now() } : session;
          upsertSession(conn.namespace, conn.machineId, s);
        },
        detach(reason) {
          detach(conn, reason);
        },
      };
    },

    async spawnSession(caller, machineId, spec, signal) {
      if (!spec.directory) throw new InvalidArgumentError('directory is required');
      const r = await relay(caller, machineId, { method: 'spawn', spec }, opts.spawnDeadlineMs, signal);
      if (r.method !== 'spawn') throw new HapiError('Internal', 'unexpected relay result');
      if (r.outcome.kind === 'session') {
        const session = upsertSession(caller.namespace, machineId, r.outcome.session);
        return { ...r.outcome, session };
      }
      return r.outcome;
    },

    async stopSession(caller, machineId, sessionId, signal) {
      if (!sessionId) throw new InvalidArgumentError('session id is required');
      const r = await relay(caller, machineId, { method: 'stop-session', sessionId }, opts.rpcDeadlineMs, signal);
      if (r.method !== 'stop-session') throw new HapiError('Internal', 'unexpected relay result');
      return r.result;
    },

    async stopRunner(caller, machineId, signal) {
      await relay(caller, machineId, { method: 'stop-runner' }, opts.rpcDeadlineMs, signal);
    },

    async getRunnerStatus(caller, machineId, signal) {
      const r = await relay(caller, machineId, { method: 'status' }, opts.rpcDeadlineMs, signal);
      if (r.method !== 'status') throw new HapiError('Internal', 'unexpected relay result');
      return r.report;
    },

    stats() {
      let pendingRpcs = 0;
      for (const c of connections.values()) pendingRpcs += c.pending.size;
      return { connections: connections.size, watchers: watchers.size, pendingRpcs };
    },

    close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      for (const w of watchers) w.queue.end();
      watchers.clear();
      for (const conn of [...connections.values()]) {
        detach(conn, 'hub shutting down');
        conn.sink.close(new UnavailableError('hub is shutting down'));
      }
    },
  };
  return core;
}
