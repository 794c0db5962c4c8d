/**
 * Limits on the web page's sign-ins, so that one namespace cannot sign another out (the pool of
 * sign-ins is shared) nor try tokens at speed: attempts are rate-limited per client address
 * (before anything is checked) and per credential (once the token or Telegram user is known);
 * past a limit the answer is 429 with Retry-After. How many sign-ins a credential may hold is
 * the session store's cap (web-sessions.ts).
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../../shared/http/errors.js';
import { createRateLimiter, type RateLimit } from '../../shared/rate-limit.js';
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
}

export interface SignInGuard {
  /** First thing of a sign-in: 429 when the client's address tried too often. */
  checkAddress(req: IncomingMessage): void;
  /** Once the credential is known (see credentialKey): 429 when it signed in too often. */
  checkCredential(credentialKey: string): void;
}

function tooMany(waitMs: number, what: string): HttpError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new HttpError(429, 'ResourceExhausted', `too many sign-ins ${what}; try again in ${seconds} s`, { 'retry-after': String(seconds) });
}

export function createSignInGuard(opts: SignInGuardOptions = {}): SignInGuard {
  const limits = { ...DEFAULT_SIGN_IN_LIMITS, ...opts.limits };
  const trusted = trustedProxyList(opts.trustedProxies ?? []);
  const perAddress = createRateLimiter({ ...limits.perAddress, now: opts.now });
  const perToken = createRateLimiter({ ...limits.perToken, now: opts.now });
  return {
    checkAddress(req) {
      const wait = perAddress.take(clientAddress(req, trusted));
      if (wait > 0) throw tooMany(wait, 'from this address');
    },
    checkCredential(key) {
      const wait = perToken.take(key);
      if (wait > 0) throw tooMany(wait, 'with this credential');
    },
  };
}
