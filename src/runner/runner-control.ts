/**
 * The runner's service code: what both transports (gRPC on the Unix socket, the HTTP
 * gateway) and the hub link call. Transports only decode, call this, and encode.
 */
import type { SessionManager } from './domain.js';

export type HubLinkStateName = 'not-configured' | 'connecting' | 'connected' | 'reconnecting';

export interface HubLinkStatus {
  state: HubLinkStateName;
  hubUrl?: string;
  lastError?: string;
  machineId?: string;
  namespace?: string;
  connectedSince?: Date;
}

export interface RunnerStatusInfo {
  pid: number;
  startedAt: Date;
  cliVersion: string;
  cliMtimeMs: number;
  cliPath: string;
  httpPort: number;
  socketPath: string;
  lastHeartbeat?: Date;
  logPath: string;
  hubLink: HubLinkStatus;
  sessionCount: number;
  hapiHome: string;
  workspaceRoots: string[];
}

/** Why the runner shuts down; logged, and it picks the exit code. */
export type ShutdownReason = 'os-signal' | 'cli' | 'hub' | 'exception' | 'handoff' | 'superseded' | 'startup-failure';

export interface RunnerControl {
  sessions: SessionManager;
  status(): RunnerStatusInfo;
  /** Starts a graceful shutdown and returns at once. */
  requestStop(reason: ShutdownReason): void;
  /** True until the runner has finished starting (calls answer UNAVAILABLE meanwhile). */
  isReady(): boolean;
}
