/**
 * The wait between launching a session process and its report to the runner: the first of
 * report, early exit and timeout decides the spawn.
 */
import { AbortedError, DeadlineExceededError } from '../../shared/errors.js';
import type { SessionInfo } from '../../contract/types.js';
import { tailLines } from './log-tail.js';
import type { LaunchedSession } from './spawner.js';

export interface WaitForReportOptions {
  sessionId: string;
  launched: Pick<LaunchedSession, 'exited' | 'logPath'>;
  /** Resolves with the session once it reported; rejects when the spawn is given up (shutdown). */
  reported: Promise<SessionInfo>;
  timeoutMs: number;
  /** Stops the process tree of a session that did not report in time, before the error is thrown. */
  kill(): Promise<unknown>;
}

/**
 * Resolves with the reported session; rejects with DeadlineExceededError on timeout (after
 * `kill`), AbortedError when the process exits first, or the rejection of `reported`. Error
 * messages quote the tail of the session's log.
 */
export async function waitForReport(o: WaitForReportOptions): Promise<SessionInfo> {
  const { sessionId, launched, timeoutMs } = o;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const exited = launched.exited.then((e) => ({ exit: e }));
  try {
    const first = await Promise.race([o.reported.then((s) => ({ session: s })), exited, timedOut]);
    if (first === 'timeout') {
      await o.kill();
      const tail = tailLines(launched.logPath);
      throw new DeadlineExceededError(`session ${sessionId} did not report within ${timeoutMs} ms; stderr tail: ${tail || '(empty)'}`, {
        sessionId,
        logPath: launched.logPath,
      });
    }
    if ('exit' in first) {
      const { code, signal } = first.exit;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const tail = tailLines(launched.logPath);
      throw new AbortedError(`session ${sessionId} ${how} before reporting; last output:\n${tail || '(empty)'}`, {
        sessionId,
        exitCode: code ?? undefined,
        exitSignal: signal ?? undefined,
        logPath: launched.logPath,
      });
    }
    return first.session;
  } finally {
    clearTimeout(timer);
  }
}
