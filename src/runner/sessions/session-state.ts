/**
 * The bookkeeping the SessionManager's units share (spawn, stop, reports, adoption).
 */

/** Ended sessions remembered for idempotent retries and `stop` of a gone session. */
export const RECENT_ENDED_LIMIT = 1000;

/** Sets `key` as the newest entry of `map`, dropping the oldest beyond RECENT_ENDED_LIMIT. */
export function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > RECENT_ENDED_LIMIT) map.delete(map.keys().next().value as K);
}
