/**
 * Domain types of the hub. Plain TypeScript: no generated proto types and no grpc here. The
 * session and spawn types are the runner's (src/runner/domain.ts) so a spawn means the same
 * thing on both sides of the link; converters live at the transport edges (src/hub/convert.ts).
 */
import type { SessionInfo, SpawnOutcome, SpawnSpec, StopResult } from '../runner/domain.js';

export type { SessionInfo, SpawnOutcome, SpawnSpec, StopResult };

/** Who is calling: resolved from the bearer token. */
export interface Caller {
  namespace: string;
  owner: boolean;
  tokenId: string;
}

/** Static facts about a machine, sent by its runner. */
export interface MachineMetadataInfo {
  hostname: string;
  platform: string;
  arch: string;
  cliVersion: string;
  displayName: string;
  homeDir: string;
  agents: string[];
}

export type RunnerStatusName = 'unspecified' | 'running' | 'shutting-down';

/** Dynamic runner state, versioned by the hub. */
export interface RunnerStateInfo {
  status: RunnerStatusName;
  pid: number;
  startedAt?: Date;
  shutdownReason: string;
  lastSpawnError: string;
  httpPort: number;
}

export interface MachineRecord {
  id: string;
  namespace: string;
  metadata: MachineMetadataInfo;
  metadataVersion: number;
  runnerState: RunnerStateInfo;
  runnerStateVersion: number;
  online: boolean;
  lastAlive?: Date;
  /** When `online` last changed. */
  onlineSince?: Date;
}

/** A session as the hub stores it: the runner's view plus where it runs. */
export interface HubSession extends SessionInfo {
  machineId: string;
  namespace: string;
}

export interface TokenRecord {
  id: string;
  namespace: string;
  label: string;
  owner: boolean;
  createdAt: Date;
  revokedAt?: Date;
}

/** Result of a versioned update. */
export type UpdateOutcome<T> = { applied: true; version: number } | { applied: false; currentVersion: number; current: T };

/** What the runner reports about itself in answer to a status request. */
export interface RunnerStatusReportInfo {
  pid: number;
  cliVersion: string;
  sessionCount: number;
  startedAt?: Date;
}

/** A call relayed from the hub down a runner's stream. */
export type RelayCall =
  | { method: 'spawn'; spec: SpawnSpec }
  | { method: 'stop-session'; sessionId: string }
  | { method: 'stop-runner' }
  | { method: 'status' };

/** The runner's successful answer, by method. */
export type RelayResult =
  | { method: 'spawn'; outcome: SpawnOutcome }
  | { method: 'stop-session'; result: StopResult['result'] }
  | { method: 'stop-runner' }
  | { method: 'status'; report: RunnerStatusReportInfo };

/** A change pushed to watchers (gRPC Watch* streams and the REST event stream). */
export type HubEvent = { type: 'machine'; machine: MachineRecord } | { type: 'session'; session: HubSession };

export const NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const DEFAULT_NAMESPACE = 'default';
/** Protocol version of MachineService.Connect this hub speaks. */
export const PROTOCOL_VERSION = 1;

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
