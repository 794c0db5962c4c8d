/** The hub link's clock: injectable so reconnect delays and deadlines are testable without waiting. */
export interface HubLinkClock {
  now(): number;
  /** Resolves after ms, or early when the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realClock: HubLinkClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    }),
};

/**
 * Waits for `p`, at most `ms`. The timer is cancelled as soon as `p` settles: a pending sleep
 * would keep the process alive after shutdown (it once held every linked stop for 2 s).
 */
export async function waitAtMost(clock: HubLinkClock, p: Promise<unknown>, ms: number): Promise<void> {
  const done = new AbortController();
  try {
    await Promise.race([p, clock.sleep(ms, done.signal)]);
  } finally {
    done.abort();
  }
}
