/**
 * Capped exponential backoff with jitter, reset after a healthy period, on an injectable
 * clock (tailscale's pattern). Pure, so unit tests drive it without timers.
 */
export interface BackoffOptions {
  /** First delay (ms). */
  initialMs: number;
  /** Cap (ms). */
  maxMs: number;
  /** A connection that stayed up this long resets the delay to initialMs. */
  resetAfterMs: number;
  /** Random in [0, 1). */
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };

/**
 * Delay before attempt `attempt` (0-based): initial * 2^attempt, capped, then "equal jitter"
 * (half fixed, half random) so a fleet of runners does not reconnect in lockstep after a hub
 * restart, while no runner waits less than half the nominal delay.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const random = opts.random ?? Math.random;
  const nominal = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(nominal / 2 + (random() * nominal) / 2);
}

/** Tracks attempts: call `failed()` for the next delay and `connected()`/`disconnected()` around healthy periods. */
export function createBackoff(opts: BackoffOptions, now: () => number = Date.now) {
  let attempt = 0;
  let upSince: number | undefined;
  return {
    connected() {
      upSince = now();
    },
    /** The link went down (or never came up): returns the delay before the next attempt. */
    failed(): number {
      if (upSince !== undefined && now() - upSince >= opts.resetAfterMs) attempt = 0;
      upSince = undefined;
      return backoffDelay(attempt++, opts);
    },
    get attempt() {
      return attempt;
    },
  };
}
