/**
 * What the hub's service facade (hub-core.ts) offers its transports: the HubCore interface, its
 * options, and the handle on an attached runner stream. Kept apart from the wiring so each stays
 * readable.
 */
import type { Logger } from 'pino';
import type { HapiError } from '../../shared/errors.js';
import type {
  ApprovalDecisionCall,
  MachineMetadataInfo,
  RelayCall,
  RelayResult,
  RunnerStateInfo,
  RunnerStatusReportInfo,
  SessionActivityInfo,
  SessionInfo,
  SessionScreenInfo,
  SpawnOutcome,
  SpawnSpec,
} from '../../contract/types.js';
import type { AttachHello, SessionInput } from '../../contract/session-types.js';
import type { HubStore } from './ports.js';
import type { ConnectGateOptions, ConnectGateStats } from './connect-gate.js';
import type { NotifySettingsView } from './notify/notify-settings.js';
import type { PushSubscriptions } from './notify/push-subscriptions.js';
import type { NamespaceNotifySettings } from './notify/notify-store.js';
import type { ChangeBus } from '../cluster/change-bus.js';
import type { AttentionEvent, SessionActivity } from './session-activity.js';
import type { ApprovalDecisionRecordInfo, DecisionOriginName } from '../../contract/activity-types.js';
import type { SessionEventKind } from './session-book.js';
import type { TokenScope } from './scopes.js';
import type { AttachStreamFeed, AttachStreamSink, Upstream, UpstreamHandlers } from './attach-streams.js';
import type { AttachStreamOpenInfo } from './hub-terminals.js';
import type { ViewerRelay } from './viewer-relay.js';
import type { IssuedToken } from './tokens.js';
import type { SignInLink } from './sign-in-links.js';
import type { Caller, HelloInfo, HubEvent, HubSession, MachineRecord, RunnerSink, TokenRecord, WatchFilter } from './types.js';

export interface HubCoreOptions {
  store: HubStore;
  log: Logger;
  aliveTimeoutMs: number;
  spawnDeadlineMs: number;
  rpcDeadlineMs: number;
  /** Output held per attached viewer before it gets a fresh snapshot instead (default 4 MiB). */
  viewerBufferBytes?: number;
  /** How long an attached viewer waits for its runner to come back (default 30 s). */
  attachResumeMs?: number;
  /** Accept Web Push endpoints over http on loopback (HAPI_PUSH_ALLOW_LOOPBACK_HTTP). */
  pushAllowLoopbackHttp?: boolean;
  /** Injectable clock (tests). */
  now?: () => Date;
  /**
   * The change bus between hub replicas (PostgreSQL only): watchers here also hear changes made
   * on other replicas, and token revocations reach every replica. None: a single hub.
   */
  bus?: ChangeBus;
  /**
   * Told when a relayed call settles: its method, `ok` or the error kind in snake case
   * (`unavailable`, `deadline_exceeded`, ...), and how long it took (metrics).
   */
  onRelay?: (method: RelayCall['method'], outcome: string, seconds: number) => void;
  /**
   * Set on one of several replicas (src/hub/cluster/hub-cluster.ts): runner streams claim their
   * machine with an owner epoch, writes for a machine are checked against it (a stale owner is
   * fenced: the write refused, the stream dropped), and a call for a machine whose stream another
   * replica holds is forwarded to it. Unset: a single hub, exactly as before.
   */
  cluster?: HubCoreCluster;
  /** Admission control of runner connects (connect-gate.ts); default DEFAULT_CONNECT_LIMITS. */
  connectLimits?: ConnectGateOptions;
}

/**
 * Runner connects in their database phase at once, waiting, and the longest wait (HAPI_HUB_CONNECT_*).
 * The wait is long: a busy hub that makes progress serves its queue in order (refusing a runner
 * that waited only sends it to the back); the limit is for a database that stopped answering.
 */
export const DEFAULT_CONNECT_LIMITS: ConnectGateOptions = { concurrency: 8, queueMax: 10_000, maxWaitMs: 60_000 };

/** What the facade needs of the cluster (a subset of HubCluster). */
export interface HubCoreCluster {
  readonly replicaId: string;
  /** The call run by the live replica owning the machine; undefined when no other does. */
  forward(namespace: string, machineId: string, call: RelayCall, deadlineMs: number, signal?: AbortSignal): Promise<RelayResult | undefined>;
  /** A viewer's upstream through the live replica owning the machine; undefined when no other does. */
  openUpstream(namespace: string, machineId: string, sessionId: string, hello: AttachHello, handlers: UpstreamHandlers, signal: AbortSignal): Promise<Upstream | undefined>;
}

/** The hub's handle on an attached runner stream; the transport feeds it what arrives. */
export interface MachineLink {
  readonly machineId: string;
  readonly namespace: string;
  alive(): void;
  updateMetadata(expectedVersion: number, metadata: MachineMetadataInfo): Promise<void>;
  updateRunnerState(expectedVersion: number, state: RunnerStateInfo): Promise<void>;
  rpcResult(requestId: string, result: RelayResult | HapiError): void;
  sessionEvent(kind: SessionEventKind, session: SessionInfo): Promise<void>;
  /** What the runner's live terminals showed lately (session-activity.ts). */
  sessionActivity(entries: SessionActivityInfo[]): Promise<void>;
  /** The stream ended (either side). Idempotent. */
  detach(reason: string): void;
}

/** Counts for logs, benchmarks and metrics. */
export interface HubStats {
  /** Open runner streams (MachineService.Connect). */
  connections: number;
  /** Machines whose stream is open and not detached. */
  machinesOnline: number;
  /** Runner-opened attach streams, open or awaited. */
  attachStreams: number;
  watchers: number;
  pendingRpcs: number;
  viewers: number;
  /** Runner connects in their database phase, waiting for it, admitted and refused (connect-gate.ts). */
  connects: ConnectGateStats;
}

export interface HubCore {
  // tokens
  /** Resolves a bearer token; UnauthenticatedError (no detail) for anything else. */
  authenticate(token: string | undefined): Promise<Caller>;
  /** The caller of a token by its id (a stored web sign-in); UnauthenticatedError once revoked. */
  authenticateTokenId(tokenId: string): Promise<Caller>;
  /** Creates the first owner token when none exists; returns its secret, or undefined. */
  bootstrapOwnerToken(): Promise<{ tokenId: string; token: string } | undefined>;
  createToken(caller: Caller, namespace: string, label: string, scope?: TokenScope): Promise<IssuedToken>;
  listTokens(caller: Caller): Promise<TokenRecord[]>;
  revokeToken(caller: Caller, tokenId: string): Promise<void>;
  /** Calls `onRevoked` when the token is revoked; returns an unsubscribe function. */
  watchToken(tokenId: string, onRevoked: () => void): () => void;
  /** A one-time sign-in link for the caller's own token (sign-in-links.ts). */
  createSignInLink(caller: Caller): Promise<SignInLink>;
  /** A one-time sign-in link for the owner token (the hub's start lines, `hapi up`); undefined when there is none. */
  ownerSignInLink(): Promise<SignInLink | undefined>;
  /** Uses up a sign-in link's code: its token's caller. UnauthenticatedError: unknown, used, expired, or its token revoked. */
  redeemSignInLink(code: string): Promise<Caller>;
  // machines and sessions
  listMachines(caller: Caller): Promise<MachineRecord[]>;
  getMachine(caller: Caller, machineId: string): Promise<MachineRecord>;
  listSessions(caller: Caller, opts: { machineId?: string; includeEnded?: boolean }): Promise<HubSession[]>;
  /**
   * The last output time, last screen line and agent activity its runner reported for a live
   * session, if any. On a replica that does not hold the runner's stream: the activity the owner
   * stored in the row (`sharedActivity`; no screen line, no output time).
   */
  sessionActivity(session: Pick<HubSession, 'machineId' | 'id'> & Partial<Pick<HubSession, 'state' | 'sharedActivity'>>): SessionActivity | undefined;
  /** Snapshot then live changes, until the signal aborts or the hub closes. */
  watch(caller: Caller, filter: WatchFilter, signal?: AbortSignal): AsyncIterable<HubEvent>;
  // runner streams
  attachMachine(caller: Caller, hello: HelloInfo, sink: RunnerSink, signal?: AbortSignal): Promise<MachineLink>;
  // relay
  spawnSession(caller: Caller, machineId: string, spec: SpawnSpec, signal?: AbortSignal): Promise<SpawnOutcome & { session?: HubSession }>;
  stopSession(caller: Caller, machineId: string, sessionId: string, signal?: AbortSignal): Promise<'stopped' | 'already-gone'>;
  stopRunner(caller: Caller, machineId: string, signal?: AbortSignal): Promise<void>;
  getRunnerStatus(caller: Caller, machineId: string, signal?: AbortSignal): Promise<RunnerStatusReportInfo>;
  // terminals
  /**
   * Attaches a viewer to a session through its runner (`view`; a caller that may not `type` is
   * attached read-only whatever its hello asks). NotFound: another namespace's or an unknown
   * machine (the relay ends with it; an unknown session: `opened` rejects with the runner's NotFound).
   */
  attachSession(caller: Caller, machineId: string, sessionId: string, hello: AttachHello): ViewerRelay;
  /** A runner opened an attach stream the hub asked for (MachineService.AttachStream). */
  acceptAttachStream(caller: Caller, open: AttachStreamOpenInfo, sink: AttachStreamSink): Promise<AttachStreamFeed>;
  getSessionScreen(caller: Caller, machineId: string, sessionId: string, signal?: AbortSignal): Promise<SessionScreenInfo>;
  sendInput(caller: Caller, machineId: string, sessionId: string, input: SessionInput, signal?: AbortSignal): Promise<void>;
  /**
   * Someone has the session's terminal open through the hub now (a viewer attached). For the
   * notifier, not a caller: the machine ids it asks about come from its own namespace's events.
   */
  isSessionViewed(machineId: string, sessionId: string): boolean;
  // notification settings (notify/notify-settings.ts)
  /** The caller's namespace's settings and muted sessions (scope list). */
  getNotifySettings(caller: Caller): Promise<NotifySettingsView>;
  /** Changes them (full tokens only). */
  setNotifySettings(caller: Caller, settings: NamespaceNotifySettings): Promise<NotifySettingsView>;
  /** Mutes or unmutes a session of the caller's namespace (full tokens only; NotFound across namespaces). */
  muteSession(caller: Caller, machineId: string, sessionId: string, muted: boolean): Promise<void>;
  /** Web Push (notify/push-subscriptions.ts): the VAPID key pair, subscriptions of any signed-in scope. */
  push: PushSubscriptions;
  // approvals (hub-approvals.ts)
  /** Answers a session's approval request; recorded. PermissionDenied / NotFound / FailedPrecondition as in hub.proto. */
  decideApproval(caller: Caller, machineId: string, sessionId: string, call: ApprovalDecisionCall, origin: DecisionOriginName, signal?: AbortSignal): Promise<ApprovalDecisionRecordInfo>;
  /** A session's recorded decisions, oldest first. */
  listApprovalDecisions(caller: Caller, machineId: string, sessionId: string): Promise<ApprovalDecisionRecordInfo[]>;
  /**
   * "A session needs you / waits / exited" (session-activity.ts, AttentionEvent), for every
   * namespace: the event notifications subscribe to. Returns the unsubscribe.
   */
  onAttention(listener: (e: AttentionEvent) => void): () => void;
  /**
   * A call forwarded by another replica (PeerService.Relay; that replica checked the caller):
   * run down this replica's stream of the machine. Unavailable when this replica does not hold
   * it; NotFound when it is not in `namespace`; Aborted when `epoch` (non-zero) is not the
   * stream's owner epoch.
   */
  relayForPeer(namespace: string, machineId: string, epoch: number, call: RelayCall, deadline: Date, signal?: AbortSignal): Promise<RelayResult>;
  /**
   * A viewer attached on another replica (PeerService.Attach; that replica checked the caller
   * and narrowed the hello): an upstream through this replica's stream of the machine. Errors
   * as relayForPeer.
   */
  attachForPeer(namespace: string, machineId: string, sessionId: string, epoch: number, hello: AttachHello, handlers: UpstreamHandlers, signal: AbortSignal): Promise<Upstream>;
  /** A machine changed elsewhere (the cluster marked a dead replica's machine offline): tell this replica's watchers. */
  machineChanged(machine: MachineRecord): void;
  /**
   * Draining (several replicas): every runner stream is asked to reconnect elsewhere (Drain);
   * resolves once they all ended, or after `timeoutMs`.
   */
  drain(reason: string, timeoutMs: number): Promise<void>;
  /** Ends every runner stream with Unavailable (their runners reconnect and claim again). */
  dropStreams(reason: string): void;
  /** Counts for logs and benchmarks. */
  stats(): HubStats;
  /**
   * Ends every runner stream and watcher and fails pending RPCs; resolves once the machines'
   * offline marks were saved (a few seconds at most): close the store after it.
   */
  close(): Promise<void>;
}
