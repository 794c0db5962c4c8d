/**
 * A keyed token-bucket rate limiter with an injectable clock: each key may act `burst` times at
 * once, then once more every `intervalMs`. The number of keys is bounded (the least recently
 * used is forgotten first), so a flood of new keys cannot grow memory.
 *
 *   const limiter = createRateLimiter({ burst: 20, intervalMs: 3000 });
 *   const waitMs = limiter.take(address);   // 0: go ahead; otherwise ms until the next try succeeds
 */

export interface RateLimit {
  /** How many actions a key may take at once. */
  burst: number;
  /** One more action becomes available this often (ms). */
  intervalMs: number;
}

export interface RateLimiterOptions extends RateLimit {
  /** Most keys remembered (default 10,000); the least recently used is forgotten first. */
  maxKeys?: number;
  /** Injectable clock (ms). */
  now?: () => number;
}

export interface RateLimiter {
  /** Takes one action for `key`: 0 when allowed, otherwise how long (ms) until it would be. Refused tries cost nothing. */
  take(key: string): number;
  /** Keys currently remembered. */
  size(): number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export function createRateLimiter(opts: RateLimiterOptions): RateLimiter {
  if (!(opts.burst >= 1) || !(opts.intervalMs > 0)) throw new RangeError('a rate limit needs burst >= 1 and intervalMs > 0');
  const now = opts.now ?? Date.now;
  const maxKeys = opts.maxKeys ?? 10_000;
  // Insertion order is use order: a used key is re-inserted at the end.
  const buckets = new Map<string, Bucket>();

  return {
    take(key) {
      const t = now();
      const previous = buckets.get(key);
      const bucket: Bucket = previous
        ? { tokens: Math.min(opts.burst, previous.tokens + Math.max(0, t - previous.at) / opts.intervalMs), at: t }
        : { tokens: opts.burst, at: t };
      buckets.delete(key);
      buckets.set(key, bucket);
      if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value!);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.ceil((1 - bucket.tokens) * opts.intervalMs);
    },
    size: () => buckets.size,
  };
}
