/**
 * Implements "Runner State and Heartbeat" / "Lock File and State Management" (state file) of the
 * runner documentation: runner.state.json, how clients find and authenticate to the running
 * runner. Written atomically (temp file + rename, 0600) by the runner only, and without the
 * lock (concurrent reads are safe); a missing, truncated or corrupt file reads as "no state"
 * and is treated as stale, never as a crash. The heartbeat checks that the runner still owns
 * it and records lastHeartbeat in it.
 */
import { rmSync } from 'node:fs';
import { readJsonFile, writeJsonAtomic } from '../../shared/atomic-file.js';
import { formatUsLocaleTime } from '../../shared/local-time.js';
import { processStartTime } from '../../shared/proc.js';

export interface RunnerStateFile {
  pid: number;
  httpPort: number;
  /** Local time string, as documented ("8/24/2025, 6:46:22 PM"). */
  startTime: string;
  startedWithCliVersion: string;
  startedWithCliMtimeMs: number;
  lastHeartbeat?: string;
  runnerLogPath: string;
  /** The gRPC Unix socket. */
  socketPath: string;
  /** Bearer token the HTTP gateway requires. */
  controlToken: string;
  /** ISO start time (machine-readable twin of startTime). */
  startedAt: string;
  /** Process start-time token (src/shared/proc.ts), to tell a reused PID apart. */
  processStartTime?: string;
  cliPath: string;
}

export type StateRead =
  | { kind: 'ok'; state: RunnerStateFile }
  | { kind: 'missing' }
  | { kind: 'corrupt'; error: string };

export function readStateFile(path: string): StateRead {
  const read = readJsonFile<Partial<RunnerStateFile>>(path);
  if (!read.ok) return read.reason === 'missing' ? { kind: 'missing' } : { kind: 'corrupt', error: read.error ?? 'unreadable' };
  const s = read.value;
  if (
    !s || typeof s !== 'object' ||
    !Number.isInteger(s.pid) || (s.pid as number) <= 0 ||
    typeof s.socketPath !== 'string' || typeof s.controlToken !== 'string' ||
    !Number.isInteger(s.httpPort)
  ) {
    return { kind: 'corrupt', error: 'missing or invalid fields' };
  }
  return { kind: 'ok', state: s as RunnerStateFile };
}

export function writeStateFile(path: string, state: RunnerStateFile): void {
  writeJsonAtomic(path, state, 0o600);
}

/** Removes the state file only if it still names `pid` (or is unreadable). */
export function removeStateFileIfOwned(path: string, pid: number): boolean {
  const read = readStateFile(path);
  if (read.kind === 'ok' && read.state.pid !== pid) return false;
  rmSync(path, { force: true });
  return true;
}

/** The documented time format of startTime and lastHeartbeat ("8/24/2025, 6:46:22 PM"). */
const documentedTime = formatUsLocaleTime;

/** What the runner knows at start; the rest of the state file is derived from it. */
export interface NewRunnerState {
  pid: number;
  httpPort: number;
  startedAt: Date;
  cliVersion: string;
  cliPath: string;
  cliMtimeMs: number;
  runnerLogPath: string;
  socketPath: string;
  controlToken: string;
}

/** The state file content of a runner that has just started (its first heartbeat is its start). */
export function newRunnerState(s: NewRunnerState): RunnerStateFile {
  return {
    pid: s.pid,
    httpPort: s.httpPort,
    startTime: documentedTime(s.startedAt),
    startedWithCliVersion: s.cliVersion,
    startedWithCliMtimeMs: s.cliMtimeMs,
    lastHeartbeat: documentedTime(s.startedAt),
    runnerLogPath: s.runnerLogPath,
    socketPath: s.socketPath,
    controlToken: s.controlToken,
    startedAt: s.startedAt.toISOString(),
    processStartTime: processStartTime(s.pid),
    cliPath: s.cliPath,
  };
}

/** The running runner's own state file, as the heartbeat sees it. */
export interface OwnStateFile {
  /**
   * The PID of another runner that has written the file since this one did, or undefined while
   * it is still this runner's. A missing or corrupt file is not another owner: the next write
   * restores it.
   */
  otherOwner(): number | undefined;
  /** Rewrites the file with a new lastHeartbeat. */
  recordHeartbeat(at: Date): void;
}

/** Writes the runner's state file and returns the handle its heartbeat uses. */
export function writeOwnStateFile(path: string, state: RunnerStateFile): OwnStateFile {
  writeStateFile(path, state);
  return {
    otherOwner() {
      const read = readStateFile(path);
      return read.kind === 'ok' && read.state.pid !== state.pid ? read.state.pid : undefined;
    },
    recordHeartbeat(at) {
      writeStateFile(path, { ...state, lastHeartbeat: documentedTime(at) });
    },
  };
}
