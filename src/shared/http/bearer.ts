/**
 * The one bearer-token parser (HTTP Authorization headers and gRPC metadata alike) and the
 * constant-time comparison used for every secret a request presents.
 */
import { timingSafeEqual } from 'node:crypto';

/** `Bearer <token>` (scheme case-insensitive, RFC 7235) -> token; anything else -> undefined. */
export function bearerToken(header: string | undefined | null): string | undefined {
  if (!header) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}

/** Constant-time comparison of two secrets (false when the lengths differ). */
export function secretsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether an Authorization header carries exactly `token` (compared in constant time). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const sent = bearerToken(header);
  return sent !== undefined && secretsEqual(sent, token);
}
