/**
 * runner.state.json: how clients find and authenticate to the running runner. Written
 * atomically (temp file + rename, 0600) by the runner only; a missing, truncated or corrupt
 * file reads as "no state" and is treated as stale, never as a crash.
 */
import { rmSync } from 'node:fs';
import { readJsonFile, writeJsonAtomic } from '../../shared/atomic-file.js';

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
