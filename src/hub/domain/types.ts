/**
 * Data types of the hub's domain. Plain TypeScript: no generated proto types and no grpc here.
 * The types the hub shares with runners (sessions, spawn, machine metadata and state, relayed
 * calls) are the contract's (src/contract/types.ts), so a spawn means the same thing on both
 * sides of the link; converters live in src/contract/ and are called at the transport edges.
 */
import type { HapiError } from '../../shared/errors.js';
import type { MachineInfo, MachineMetadataInfo, RelayCall, RunnerStateInfo, SessionInfo } from '../../contract/types.js';
import type { AttachHello } from '../../contract/session-types.js';
import type { AgentActivityInfo } from '../../contract/activity-types.js';
import type { TokenScope } from './scopes.js';

export type { TokenScope } from './scopes.js';

/** Who is calling: resolved from the bearer token. */
export interface Caller {
  namespace: string;
  owner: boolean;
  tokenId: string;
  /** What the caller may do (scopes.ts); the owner token is always `full`. */
  scope: TokenScope;
}

/** A machine as the hub keeps it: what HubService shows, plus the namespace it belongs to. */
export interface MachineRecord extends MachineInfo {
  namespace: string;
}

/** A session as the hub stores it: the runner's view plus where it runs. */
export interface HubSession extends SessionInfo {
  machineId: string;
  namespace: string;
  /**
   * The agent's activity as stored by the replica holding the runner's stream (several replicas:
   * SessionStore.setSessionActivity); how another replica knows it. Absent on a single hub.
   */
  sharedActivity?: AgentActivityInfo;
}

export interface TokenRecord {
  id: string;
  namespace: string;
  label: string;
  owner: boolean;
  /** Fixed when the token is made; tokens from before scopes existed are `full`. */
  scope: TokenScope;
  createdAt: Date;
  revokedAt?: Date;
}

/** Result of a versioned update. */
export type UpdateOutcome<T> = { applied: true; version: number } | { applied: false; currentVersion: number; current: T };

/** A change pushed to watchers (gRPC Watch* streams and the REST event stream). */
export type HubEvent = { type: 'machine'; machine: MachineRecord } | { type: 'session'; session: HubSession };

export const DEFAULT_NAMESPACE = 'default';

/** A web sign-in as stored: never the cookie value, never a token secret. */
export interface WebSessionRecord {
  key: string;
  csrfToken: string;
  kind: 'token' | 'telegram';
  /** The token id (kind token) or the Telegram user id (kind telegram). */
  subject: string;
  createdAt: number;
  lastSeenAt: number;
}

/** What a watcher wants to hear about. */
export interface WatchFilter {
  machines?: boolean;
  sessions?: boolean;
  /** Only this machine's sessions. */
  machineId?: string;
}

/** What the hub sends down a runner's stream (converted to ConnectResponse by the transport). */
export type RunnerBound =
  | { type: 'welcome'; namespace: string; metadataVersion: number; runnerStateVersion: number; aliveIntervalMs: number; protocolVersion: number; linkId: string }
  | { type: 'update-result'; kind: 'metadata'; outcome: UpdateOutcome<MachineMetadataInfo> }
  | { type: 'update-result'; kind: 'runner-state'; outcome: UpdateOutcome<RunnerStateInfo> }
  | { type: 'rpc'; requestId: string; deadline: Date; call: RelayCall }
  | { type: 'open-attach'; attachId: string; sessionId: string; hello: AttachHello }
  /** This replica is draining: connect to another (machine.proto, Drain). */
  | { type: 'drain'; reason: string };

/** The transport side of one runner stream. */
export interface RunnerSink {
  send(msg: RunnerBound): void;
  /** Ends the stream with this error (status code from its kind). */
  close(err: HapiError): void;
}

/** The first message of a runner's stream. */
export interface HelloInfo {
  machineId: string;
  metadata: MachineMetadataInfo;
  runnerState: RunnerStateInfo;
  protocolVersion: number;
  capabilities: string[];
  sessions: SessionInfo[];
  /** Which install of the runner speaks (see Hello.install_fingerprint); '' = unknown. */
  installFingerprint: string;
}
