/**
 * One-time sign-in links for the web page: the one place where links are made (the hub's start
 * lines, `hapi up`'s QR code, HubCore.createSignInLink). A link names a hub token by its id,
 * never carries the token: its code is a fresh random secret, redeemed at most once, within a
 * short time (10 minutes by default), and kept in this hub process's memory only (a restart
 * voids every link, which only costs a fresh one).
 *
 * The code travels in the URL's fragment (`<page>/#sign-in=<code>`): browsers never send a
 * fragment to a server, so it stays out of access logs, proxies and Referer headers, and a
 * link-preview bot that fetches the page cannot redeem it (the page's script does, with a POST).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SIGN_IN_LINK_TTL_MS = 10 * 60_000;
/** Links waiting at once; the oldest is dropped past this (links are cheap to make again). */
const MAX_PENDING = 256;

export interface SignInLink {
  code: string;
  expiresAt: Date;
}

export interface SignInLinks {
  /** A fresh link for the token `tokenId` (its scope and namespace are the token's own). */
  issue(tokenId: string): SignInLink;
  /** The token id of a valid, unused code; the code is used up. Undefined otherwise. */
  redeem(code: string): string | undefined;
  readonly pending: number;
}

export interface SignInLinksOptions {
  ttlMs?: number;
  now?: () => number;
}

const digest = (code: string) => createHash('sha256').update(code, 'utf8').digest();

export function createSignInLinks(opts: SignInLinksOptions = {}): SignInLinks {
  const ttlMs = opts.ttlMs ?? SIGN_IN_LINK_TTL_MS;
  const now = opts.now ?? Date.now;
  /** By the code's hash (only hashes are kept, as for tokens); Map order is issue order. */
  const links = new Map<string, { hash: Buffer; tokenId: string; expiresAt: number }>();

  function sweep(): void {
    const t = now();
    for (const [key, l] of links) if (l.expiresAt <= t) links.delete(key);
  }

  return {
    issue(tokenId) {
      sweep();
      while (links.size >= MAX_PENDING) links.delete(links.keys().next().value!);
      const code = randomBytes(24).toString('base64url');
      const hash = digest(code);
      const expiresAt = now() + ttlMs;
      links.set(hash.toString('hex'), { hash, tokenId, expiresAt });
      return { code, expiresAt: new Date(expiresAt) };
    },
    redeem(code) {
      sweep();
      if (typeof code !== 'string' || code.length === 0 || code.length > 100) return undefined;
      const hash = digest(code);
      const key = hash.toString('hex');
      const link = links.get(key);
      if (!link || !timingSafeEqual(link.hash, hash)) return undefined;
      links.delete(key);
      return link.tokenId;
    },
    get pending() {
      sweep();
      return links.size;
    },
  };
}

/** The page's URL that signs in with `code`: `<base>/#sign-in=<code>`. `base` is the hub's public HTTP URL. */
export function signInUrl(base: string, code: string): string {
  return `${base.replace(/\/+$/, '')}/#sign-in=${encodeURIComponent(code)}`;
}
