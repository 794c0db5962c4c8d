/**
 * One-time sign-in links for the web page: the one place where links are made (the hub's start
 * lines, `hapi up`'s QR code, HubCore.createSignInLink). A link names a hub token by its id,
 * never carries the token: its code is a fresh random secret, redeemed at most once, within a
 * short time (10 minutes by default). Links are kept (by hash) in the hub database, so with
 * several replicas a link made on one is redeemed on any, and only once (store.takeOneTimeCode
 * is atomic); a link survives a hub restart within its ten minutes.
 *
 * The code travels in the URL's fragment (`<page>/#sign-in=<code>`): browsers never send a
 * fragment to a server, so it stays out of access logs, proxies and Referer headers, and a
 * link-preview bot that fetches the page cannot redeem it (the page's script does, with a POST).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { OneTimeCodeStore } from './ports.js';

export const SIGN_IN_LINK_TTL_MS = 10 * 60_000;

export interface SignInLink {
  code: string;
  expiresAt: Date;
}

export interface SignInLinks {
  /** A fresh link for the token `tokenId` (its scope and namespace are the token's own). */
  issue(tokenId: string): Promise<SignInLink>;
  /** The token id of a valid, unused code; the code is used up. Undefined otherwise. */
  redeem(code: string): Promise<string | undefined>;
  /** Links not used and not expired. */
  pending(): Promise<number>;
}

export interface SignInLinksOptions {
  /** Where links wait (the hub database: with several replicas a link made on one is redeemed on any, once). */
  store: OneTimeCodeStore;
  ttlMs?: number;
  now?: () => number;
}

/** Only the code's SHA-256 is stored, as for tokens. */
const digest = (code: string) => createHash('sha256').update(code, 'utf8').digest('hex');

export function createSignInLinks(opts: SignInLinksOptions): SignInLinks {
  const { store } = opts;
  const ttlMs = opts.ttlMs ?? SIGN_IN_LINK_TTL_MS;
  const now = opts.now ?? Date.now;

  return {
    async issue(tokenId) {
      const code = randomBytes(24).toString('base64url');
      const expiresAt = now() + ttlMs;
      await store.insertOneTimeCode({ kind: 'sign-in-link', hash: digest(code), payload: tokenId, expiresAt });
      return { code, expiresAt: new Date(expiresAt) };
    },
    async redeem(code) {
      if (typeof code !== 'string' || code.length === 0 || code.length > 100) return undefined;
      // Looked up by hash (an index lookup, not a comparison of secrets), deleted in the same statement.
      return store.takeOneTimeCode('sign-in-link', digest(code), now());
    },
    pending: () => store.countOneTimeCodes('sign-in-link', now()),
  };
}

/** The page's URL that signs in with `code`: `<base>/#sign-in=<code>`. `base` is the hub's public HTTP URL. */
export function signInUrl(base: string, code: string): string {
  return `${base.replace(/\/+$/, '')}/#sign-in=${encodeURIComponent(code)}`;
}
