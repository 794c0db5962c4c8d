/**
 * The session process's side of the runner contract: SessionStarted once the agent runs,
 * SessionEnded when it exits, over RunnerService on the runner's Unix socket. This is the
 * transport edge: the request is built by the contract's converter.
 */
import { sessionEndToProto, sessionReportToProto } from '../contract/runner.js';
import type { SessionEnd } from '../contract/types.js';
import { connectRunner, type RunnerConnection } from '../runner/client/connect.js';
import { createBackoff } from '../shared/backoff.js';
import type { Env } from '../shared/config.js';
import { isHapiError } from '../shared/errors.js';

export interface StartedReport {
  sessionId: string;
  pid: number;
  startedBy: 'runner' | 'terminal';
  directory: string;
  agent: string;
  startedAt: Date;
}

export interface RunnerReporter {
  /**
   * Reports the session. Retries while the runner is unavailable (not started yet, starting,
   * restarting) until `deadlineMs` from now; any other error is final. Throws the last error.
   */
  reportStarted(report: StartedReport, deadlineMs: number, opts?: { stopRetrying?: AbortSignal }): Promise<void>;
  /**
   * Tells the runner the session's activity changed (it reads it from the session's socket and
   * tells its hub). Best effort, never throws: one call at a time, changes meanwhile folded into
   * one more; a runner that is away reads the activity again when it adopts the session.
   */
  activityChanged(sessionId: string): void;
  /** Best effort, one attempt: the runner also learns about the end from the process exit. */
  reportEnded(end: SessionEnd, timeoutMs: number): Promise<void>;
  close(): void;
}

const ACTIVITY_CALL_TIMEOUT_MS = 2_000;

function isUnavailable(err: unknown): boolean {
  return isHapiError(err) && err.kind === 'Unavailable';
}

export function createRunnerReporter(opts: { env?: Env } = {}): RunnerReporter {
  let conn: RunnerConnection | undefined;

  function connection(): RunnerConnection {
    // connectRunner throws UnavailableError while the socket does not exist yet.
    conn ??= connectRunner({ env: opts.env });
    return conn;
  }

  let telling = false;
  let again = false;
  async function tell(sessionId: string): Promise<void> {
    if (telling) {
      again = true;
      return;
    }
    telling = true;
    try {
      do {
        again = false;
        await connection()
          .call((c, signal) => c.sessionActivityChanged({ sessionId }, { signal }), ACTIVITY_CALL_TIMEOUT_MS)
          .catch(() => undefined);
      } while (again);
    } catch {
      // No runner socket yet: the runner reads the activity when it learns of the session.
    } finally {
      telling = false;
    }
  }

  return {
    activityChanged: (sessionId) => void tell(sessionId),
    async reportStarted(report, deadlineMs, { stopRetrying } = {}) {
      const request = sessionReportToProto({
        sessionId: report.sessionId,
        hostPid: report.pid,
        startedBy: report.startedBy,
        directory: report.directory,
        agent: report.agent,
        startedAt: report.startedAt,
      });
      const deadline = Date.now() + deadlineMs;
      // Short delays: a runner that is starting answers within a few hundred ms.
      const backoff = createBackoff({ initialMs: 25, maxMs: 250 });
      for (;;) {
        const remaining = deadline - Date.now();
        try {
          await connection().call((c, signal) => c.sessionStarted(request, { signal }), Math.max(remaining, 100));
          return;
        } catch (err) {
          const delay = backoff.failed();
          if (!isUnavailable(err) || Date.now() + delay >= deadline || stopRetrying?.aborted) throw err;
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    },
    async reportEnded(end, timeoutMs) {
      await connection().call(
        (c, signal) => c.sessionEnded(sessionEndToProto(end), { signal }),
        timeoutMs,
      );
    },
    close() {
      conn?.close();
      conn = undefined;
    },
  };
}
