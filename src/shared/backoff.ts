/**
 * The one backoff of the project: capped exponential with jitter, reset after a healthy period,
 * on an injectable clock and random source (tailscale's pattern). Used by the runner's hub link
 * (reconnect), the runner's version hand-off (retry a failed `runner start`) and a session's
 * report to its runner (retry while the runner is unavailable). Pure, so unit tests drive it
 * without timers: the caller sleeps.
 */
export interface BackoffOptions {
  /** First delay (ms). */
  initialMs: number;
  /** Cap (ms). */
  maxMs: number;
  /**
   * A success (`succeeded()`) that lasted this long before the next failure resets the delay to
   * initialMs. Omitted: only `reset()` starts over.
   */
  resetAfterMs?: number;
  /** Random in [0, 1); default Math.random. */
  random?: () => number;
  /** Clock in ms; default Date.now. */
  now?: () => number;
}

/**
 * Delay before attempt `attempt` (0-based): initial * 2^attempt, capped, then "equal jitter"
 * (half fixed, half random) so a fleet of runners does not retry in lockstep after a hub
 * restart, while nobody waits less than half the nominal delay.
 */
export function backoffDelay(attempt: number, opts: Pick<BackoffOptions, 'initialMs' | 'maxMs' | 'random'>): number {
  const random = opts.random ?? Math.random;
  const nominal = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(nominal / 2 + (random() * nominal) / 2);
}

export interface Backoff {
  /** The attempt went well (a link came up): a long enough healthy period resets the delay. */
  succeeded(): void;
  /** The attempt failed (or a healthy period ended): returns the delay before the next attempt. */
  failed(): number;
  /** Starts over from initialMs. */
  reset(): void;
  /** Failures counted since the last reset. */
  readonly attempt: number;
}

export function createBackoff(opts: BackoffOptions): Backoff {
  const now = opts.now ?? Date.now;
  let attempt = 0;
  let upSince: number | undefined;
  return {
    succeeded() {
      upSince = now();
    },
    failed() {
      if (upSince !== undefined && opts.resetAfterMs !== undefined && now() - upSince >= opts.resetAfterMs) attempt = 0;
      upSince = undefined;
      return backoffDelay(attempt++, opts);
    },
    reset() {
      attempt = 0;
      upSince = undefined;
    },
    get attempt() {
      return attempt;
    },
  };
}
