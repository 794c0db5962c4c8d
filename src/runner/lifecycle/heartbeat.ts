/**
 * A periodic task that never overlaps itself: if a beat is still running when the next is
 * due, the next is skipped (and logged).
 */
import type { Logger } from 'pino';

export interface Heartbeat {
  stop(): void;
  /** Runs one beat now (unless one is in flight); resolves when it finished. */
  beatNow(): Promise<void>;
}

export function startHeartbeat(intervalMs: number, beat: () => Promise<void>, log: Logger): Heartbeat {
  let running: Promise<void> | undefined;
  const run = (): Promise<void> => {
    if (running) {
      log.debug('previous heartbeat still running; skipping this cycle');
      return running;
    }
    running = beat()
      .catch((err) => log.error({ err }, 'heartbeat failed'))
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(() => void run(), intervalMs);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    beatNow: run,
  };
}
