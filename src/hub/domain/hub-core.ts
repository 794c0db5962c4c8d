/**
 * The hub's service facade, shared by every transport (gRPC HubService/TokenService/
 * MachineService and the REST view): transports only convert and delegate. It wires the
 * domain's units over the store ports and adds the rules that span them (namespace scoping,
 * what a hello does, what a relayed spawn records):
 * - tokens.ts: tokens, namespaces and authentication;
 * - presence.ts: runner streams, alive messages, the sweeper, online/offline;
 * - versioned.ts: versioned metadata and runner state;
 * - relay.ts: requests relayed down a stream, with deadlines;
 * - session-book.ts and watch-feed.ts: sessions and the change feed for watchers;
 * - scopes.ts: what a token's scope allows, asked here before every call (the one place);
 * - runner-links.ts: a runner's hello and what its stream reports afterwards (MachineService);
 * - hub-terminals.ts: viewers attached to sessions through the hub, and runner-opened attach streams.
 * The interface it implements is declared in hub-core-api.ts.
 */
import { HapiError, InvalidArgumentError, isHapiError, NotFoundError, UnauthenticatedError, UnavailableError } from '../../shared/errors.js';
import type { RelayCall, RelayResult } from '../../contract/types.js';
import { checkSessionId, checkSpawnSpec } from '../../contract/limits.js';
import { createPresence } from './presence.js';
import { createActivityBook } from './session-activity.js';
import { createHubApprovals } from './hub-approvals.js';
import { createSessionBook } from './session-book.js';
import { allows, requireScope, type HubAction } from './scopes.js';
import { createHubTerminals } from './hub-terminals.js';
import { createNotifySettings } from './notify/notify-settings.js';
import { createPushSubscriptions } from './notify/push-subscriptions.js';
import { createTokens } from './tokens.js';
import { createSignInLinks } from './sign-in-links.js';
import type { Caller, HubEvent, MachineRecord } from './types.js';
import { acceptableSessions, createRunnerLinks } from './runner-links.js';
import { createWatchFeed } from './watch-feed.js';
import { DEFAULT_CONNECT_LIMITS, type HubCore, type HubCoreOptions } from './hub-core-api.js';
import { createClusterFeed, type ClusterFeed } from '../cluster/cluster-feed.js';
import { createReplicaStreams } from '../cluster/replica-streams.js';
import { createConnectGate } from './connect-gate.js';

export type { HelloInfo, RunnerBound, RunnerSink, WatchFilter } from './types.js';

export type { HubCore, HubCoreOptions, MachineLink } from './hub-core-api.js';

/** Creates the facade; presence first marks every stored machine offline (nobody is connected yet). */
export async function createHubCore(opts: HubCoreOptions): Promise<HubCore> {
  const { store, aliveTimeoutMs } = opts;
  const log = opts.log.child({ c: 'hub-core' });
  const now = opts.now ?? (() => new Date());
  const feed = createWatchFeed();
  // With replicas (a change bus), what is published here is also announced to the others.
  let cluster: ClusterFeed | undefined;
  const publish = (namespace: string, event: HubEvent) => (cluster ? cluster.publish(namespace, event) : feed.publish(namespace, event));
  const tokens = createTokens({ store, log, now, onRevoked: (tokenId) => cluster?.tokenRevoked(tokenId) });
  const presence = await createPresence({ store, publish, log, now, aliveTimeoutMs, ownership: opts.cluster && { replicaId: opts.cluster.replicaId } });
  const notifySettings = createNotifySettings({ store, now });
  const push = createPushSubscriptions({ store, now, allowLoopbackHttp: opts.pushAllowLoopbackHttp ?? false });
  if (opts.bus) {
    cluster = createClusterFeed({ feed, bus: opts.bus, store, withLastAlive: presence.withLastAlive, tokensChanged: tokens.recheck, log, now });
    await cluster.start();
  }
  const sessions = createSessionBook({ store, publish });
  const terminals = createHubTerminals({
    presence,
    log,
    viewerBufferBytes: opts.viewerBufferBytes ?? 4 * 1024 * 1024,
    attachResumeMs: opts.attachResumeMs ?? 30_000,
    remoteUpstream: opts.cluster?.openUpstream,
  });
  const signInLinks = createSignInLinks({ store, now: () => now().getTime() });
  // Several replicas: the owner stores each change of an agent's activity in the sessions row (one
  // write per change, never per alive or screen line), so the others list it and the change bus's
  // doorbell brings it to their watchers with the row they read anyway; no read waits on a peer.
  const activity = createActivityBook({
    store,
    publish,
    now,
    share: opts.cluster ? (_ns, machineId, sessionId, a) => store.setSessionActivity(machineId, sessionId, a) : undefined,
    onListenerError: (err) => log.error({ err }, 'an attention listener failed'),
    onShareError: (err) => log.warn({ err }, 'could not store a session activity for the other replicas'),
  });
  const approvals = createHubApprovals({ store, activity, now, log, relay: (caller, machineId, call, signal) => relay(caller, machineId, call, opts.rpcDeadlineMs, signal) });
  // Fencing, forwarded calls, draining (several replicas; src/hub/cluster/replica-streams.ts).
  const replicaStreams = createReplicaStreams({ store, presence, publish, log, now, clustered: !!opts.cluster });
  const connects = createConnectGate(opts.connectLimits ?? DEFAULT_CONNECT_LIMITS);
  const attachRunner = createRunnerLinks({
    presence, sessions, activity, publish, fenced: replicaStreams.fenced, log, now, aliveTimeoutMs, clustered: !!opts.cluster,
    connects, refusing: () => closed || replicaStreams.draining,
  });
  let closed = false;

  /** The caller's scope allows `action`, and the machine is one of its namespace's. */
  async function requireMachineFor(caller: Caller, action: HubAction, machineId: string): Promise<MachineRecord> {
    requireScope(caller, action);
    return requireMachine(caller, machineId);
  }

  async function requireMachine(caller: Caller, machineId: string): Promise<MachineRecord> {
    if (!machineId) throw new InvalidArgumentError('machine id is required');
    const m = await store.getMachine(machineId);
    // Another namespace's machine is indistinguishable from a missing one.
    if (!m || m.namespace !== caller.namespace) throw new NotFoundError(`machine ${machineId} not found`);
    return presence.withLastAlive(m);
  }

  /** Which action each relayed call is, for the scope check. */
  const RELAY_ACTION: Record<RelayCall['method'], HubAction> = {
    spawn: 'spawn',
    'stop-session': 'stop-session',
    'stop-runner': 'stop-runner',
    status: 'runner-status',
    'session-screen': 'view',
    'send-input': 'type',
    'decide-approval': 'decide',
  };

  async function relay(caller: Caller, machineId: string, call: RelayCall, deadlineMs: number, signal?: AbortSignal): Promise<RelayResult> {
    await requireMachineFor(caller, RELAY_ACTION[call.method], machineId);
    const conn = presence.get(machineId);
    const started = performance.now();
    const observe = (outcome: string) => opts.onRelay?.(call.method, outcome, (performance.now() - started) / 1000);
    try {
      if (!conn || conn.detached) {
        // Another replica may hold the machine's stream: it runs the call.
        const forwarded = await opts.cluster?.forward(caller.namespace, machineId, call, deadlineMs, signal);
        if (forwarded) {
          observe('ok');
          return forwarded;
        }
        throw new UnavailableError(`machine ${machineId} is offline`);
      }
      replicaStreams.refuseWhileDraining(machineId);
      const result = await conn.pending.request(call, deadlineMs, (requestId, deadline) => conn.sink.send({ type: 'rpc', requestId, deadline, call }), signal);
      observe('ok');
      return result;
    } catch (err) {
      // The kind in snake case, as gRPC status names read in lower case (`deadline_exceeded`).
      observe(isHapiError(err) ? err.kind.replace(/(?<=[a-z])(?=[A-Z])/g, '_').toLowerCase() : 'internal');
      throw err;
    }
  }

  function unexpected(): never {
    throw new HapiError('Internal', 'unexpected relay result');
  }

  const core: HubCore = {
    authenticate: tokens.authenticate,
    authenticateTokenId: tokens.authenticateTokenId,
    bootstrapOwnerToken: tokens.bootstrapOwnerToken,
    createToken: tokens.create,
    listTokens: tokens.list,
    revokeToken: tokens.revoke,
    watchToken: tokens.watch,

    createSignInLink: (caller) => signInLinks.issue(caller.tokenId),
    async ownerSignInLink() {
      const owner = (await store.listTokens()).find((t) => t.owner);
      return owner && signInLinks.issue(owner.id);
    },
    async redeemSignInLink(code) {
      const tokenId = await signInLinks.redeem(code);
      if (!tokenId) throw new UnauthenticatedError('this sign-in link is invalid, used already or expired: ask for a new one (restart the hub, or `hapi hub token owner`)');
      return tokens.authenticateTokenId(tokenId);
    },

    async listMachines(caller) {
      requireScope(caller, 'list');
      return (await store.listMachines(caller.namespace)).map(presence.withLastAlive);
    },

    getMachine: (caller, machineId) => requireMachineFor(caller, 'list', machineId),

    async listSessions(caller, o) {
      requireScope(caller, 'list');
      if (o.machineId) await requireMachine(caller, o.machineId);
      return store.listSessions(caller.namespace, o);
    },

    sessionActivity(s) {
      // What this replica heard from its own stream of the machine is the freshest (screen line
      // included); another replica's stream (or none: the owner died) is known by the row.
      const conn = presence.get(s.machineId);
      const held = !opts.cluster || (conn && !conn.detached) ? activity.of(s.machineId, s.id) : undefined;
      if (held || !s.sharedActivity || s.state === 'ended') return held;
      return { lastLine: '', activity: s.sharedActivity };
    },

    watch(caller, filter, signal) {
      requireScope(caller, 'watch');
      return feed.watch(
        caller.namespace,
        filter,
        async () => {
          if (filter.machineId) await requireMachine(caller, filter.machineId);
          const snapshot: HubEvent[] = [];
          if (filter.machines) for (const m of await core.listMachines(caller)) snapshot.push({ type: 'machine', machine: m });
          if (filter.sessions) {
            for (const s of await store.listSessions(caller.namespace, { machineId: filter.machineId, includeEnded: false })) {
              snapshot.push({ type: 'session', session: s });
            }
          }
          return snapshot;
        },
        signal,
      );
    },

    async attachMachine(caller, hello, sink, signal) {
      if (closed || replicaStreams.draining) throw new UnavailableError('hub is shutting down');
      return attachRunner(caller, hello, sink, signal);
    },

    async spawnSession(caller, machineId, spec, signal) {
      // Scope first: a read-only caller learns nothing from the validation of its spec.
      requireScope(caller, 'spawn');
      checkSpawnSpec(spec);
      const r = await relay(caller, machineId, { method: 'spawn', spec }, opts.spawnDeadlineMs, signal);
      if (r.method !== 'spawn') unexpected();
      if (r.outcome.kind === 'session') {
        if (acceptableSessions(log, machineId, [r.outcome.session], 'spawn answer').length === 0) {
          throw new HapiError('Internal', 'the runner answered with a session that breaks the session rules');
        }
        try {
          const session = await sessions.upsert(caller.namespace, machineId, r.outcome.session);
          return { ...r.outcome, session };
        } catch (err) {
          // The session runs: say so. The record follows with the runner's next hello.
          if (!isHapiError(err) || err.kind !== 'Unavailable') throw err;
          log.warn({ err, machineId, sessionId: r.outcome.session.id }, 'spawned session not recorded yet');
          return { ...r.outcome, session: { ...r.outcome.session, machineId, namespace: caller.namespace } };
        }
      }
      return r.outcome;
    },

    async stopSession(caller, machineId, sessionId, signal) {
      requireScope(caller, 'stop-session');
      if (!sessionId) throw new InvalidArgumentError('session id is required');
      checkSessionId(sessionId);
      const r = await relay(caller, machineId, { method: 'stop-session', sessionId }, opts.rpcDeadlineMs, signal);
      if (r.method !== 'stop-session') unexpected();
      return r.result;
    },

    async stopRunner(caller, machineId, signal) {
      await relay(caller, machineId, { method: 'stop-runner' }, opts.rpcDeadlineMs, signal);
    },

    async getRunnerStatus(caller, machineId, signal) {
      const r = await relay(caller, machineId, { method: 'status' }, opts.rpcDeadlineMs, signal);
      if (r.method !== 'status') unexpected();
      return r.report;
    },

    attachSession(caller, machineId, sessionId, hello) {
      if (closed) throw new UnavailableError('hub is shutting down');
      requireScope(caller, 'view');
      if (!sessionId) throw new InvalidArgumentError('session id is required');
      checkSessionId(sessionId);
      // The namespace check reads the store: the relay waits for it before asking the runner.
      const allowed = requireMachine(caller, machineId).then(() => undefined);
      allowed.catch(() => undefined);
      const mode = hello.mode === 'interactive' && allows(caller.scope, 'type') ? 'interactive' : 'read-only';
      // Through the hub is never a person's own terminal on that machine.
      return terminals.attach(machineId, sessionId, { ...hello, mode, localTerminal: undefined }, allowed, caller.namespace);
    },

    async acceptAttachStream(caller, open, sink) {
      if (closed) throw new UnavailableError('hub is shutting down');
      requireScope(caller, 'connect-runner');
      if (!open.machineId || !open.linkId || !open.attachId) throw new InvalidArgumentError('open needs machine_id, link_id and attach_id');
      await requireMachine(caller, open.machineId);
      return terminals.accept(caller.namespace, open, sink);
    },

    async getSessionScreen(caller, machineId, sessionId, signal) {
      if (!sessionId) throw new InvalidArgumentError('session id is required');
      checkSessionId(sessionId);
      const r = await relay(caller, machineId, { method: 'session-screen', sessionId }, opts.rpcDeadlineMs, signal);
      if (r.method !== 'session-screen') unexpected();
      return r.screen;
    },

    async sendInput(caller, machineId, sessionId, input, signal) {
      requireScope(caller, 'type');
      if (!sessionId) throw new InvalidArgumentError('session id is required');
      checkSessionId(sessionId);
      const r = await relay(caller, machineId, { method: 'send-input', sessionId, input }, opts.rpcDeadlineMs, signal);
      if (r.method !== 'send-input') unexpected();
    },

    isSessionViewed: (machineId, sessionId) => terminals.isViewing(machineId, sessionId),
    getNotifySettings: notifySettings.get,
    setNotifySettings: notifySettings.set,
    muteSession: notifySettings.mute,
    push,
    decideApproval: approvals.decide,
    listApprovalDecisions: approvals.list,
    onAttention: activity.onAttention,

    async relayForPeer(namespace, machineId, epoch, call, deadline, signal) {
      const r = await replicaStreams.relayForPeer(namespace, machineId, epoch, call, deadline, signal);
      // A decision another replica forwarded: the request clears here, where the activity is kept
      // (and so in the row every replica reads), not at the runner's next report.
      if (call.method === 'decide-approval' && r.method === 'decide-approval') await activity.settled(namespace, machineId, call.sessionId, call.decision.requestId);
      return r;
    },
    attachForPeer: replicaStreams.attachForPeer,
    machineChanged: replicaStreams.machineChanged,
    drain: replicaStreams.drain,
    dropStreams: replicaStreams.dropStreams,

    stats() {
      return {
        // A detached stream leaves presence at once: one open stream per online machine.
        connections: presence.size,
        machinesOnline: presence.size,
        attachStreams: presence.attachStreams,
        watchers: feed.size,
        pendingRpcs: presence.pendingRequests,
        viewers: terminals.viewers,
        connects: connects.stats(),
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      terminals.close(new UnavailableError('hub is shutting down; attach again with your last offset'));
      feed.close();
      await presence.close();
    },
  };
  return core;
}
