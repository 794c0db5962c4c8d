/**
 * Limits on the web page's sign-ins, so that one namespace cannot sign another out (the pool of
 * sign-ins is shared) nor try tokens at speed: attempts are rate-limited per client address
 * (before anything is checked) and per credential (once the token or Telegram user is known);
 * past a limit the answer is 429 with Retry-After. How many sign-ins a credential may hold is
 * the session store's cap (web-sessions.ts). With several hub replicas (PostgreSQL) the limits
 * are counted in the database (`shared`), so a client behind a load balancer gets one budget,
 * not one per replica; a lone hub counts in memory.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../../shared/http/errors.js';
import { createRateLimiter, type RateLimit } from '../../shared/rate-limit.js';
import type { SharedRateLimitStore } from '../domain/ports.js';
import { clientAddress, trustedProxyList } from './client-address.js';

export interface SignInLimits {
  /** Sign-in attempts per client address (valid or not). */
  perAddress: RateLimit;
  /** Sign-ins per credential (a hub token, a Telegram user). */
  perToken: RateLimit;
}

/** 20 attempts at once per address then one every 3 s; 10 per token then one every 6 s. */
export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = {
  perAddress: { burst: 20, intervalMs: 3_000 },
  perToken: { burst: 10, intervalMs: 6_000 },
};

export interface SignInGuardOptions {
  limits?: Partial<SignInLimits>;
  /** HAPI_WEB_TRUSTED_PROXIES: whose X-Forwarded-For names the client. */
  trustedProxies?: readonly string[];
  now?: () => number;
  /** Where replicas count together (the PostgreSQL store); absent: this process counts alone. */
  shared?: SharedRateLimitStore;
}

export interface SignInGuard {
  /** First thing of a sign-in: 429 when the client's address tried too often. */
  checkAddress(req: IncomingMessage): Promise<void>;
  /** Once the credential is known (see credentialKey): 429 when it signed in too often. */
  checkCredential(credentialKey: string): Promise<void>;
}

function tooMany(waitMs: number, what: string): HttpError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new HttpError(429, 'ResourceExhausted', `too many sign-ins ${what}; try again in ${seconds} s`, { 'retry-after': String(seconds) });
}

/** One limiter's take: resolves to 0 when allowed, otherwise ms until it would be. */
type Take = (key: string) => Promise<number>;

function limiter(name: string, limit: RateLimit, opts: SignInGuardOptions): Take {
  const now = opts.now ?? Date.now;
  const shared = opts.shared;
  if (shared) return (key) => shared.takeSharedRateLimit(`sign-in/${name}/${key}`, limit, now());
  const local = createRateLimiter({ ...limit, now: opts.now });
  return async (key) => local.take(key);
}

export function createSignInGuard(opts: SignInGuardOptions = {}): SignInGuard {
  const limits = { ...DEFAULT_SIGN_IN_LIMITS, ...opts.limits };
  const trusted = trustedProxyList(opts.trustedProxies ?? []);
  const perAddress = limiter('address', limits.perAddress, opts);
  const perToken = limiter('credential', limits.perToken, opts);
  return {
    async checkAddress(req) {
      const wait = await perAddress(clientAddress(req, trusted));
      if (wait > 0) throw tooMany(wait, 'from this address');
    },
    async checkCredential(key) {
      const wait = await perToken(key);
      if (wait > 0) throw tooMany(wait, 'with this credential');
    },
  };
}
