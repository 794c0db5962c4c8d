/**
 * One-time attach tickets: a WebSocket cannot carry a custom header, and a page in Telegram's
 * iframe gets no cookie, so it asks (with a CSRF-protected POST) for a ticket and puts it in the
 * attach URL. A ticket is random, valid 30 s, redeemable once, and bound to the sign-in that
 * asked for it and to one machine and session; only its hash is kept.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { OneTimeCodeStore } from '../domain/ports.js';

export const ATTACH_TICKET_TTL_MS = 30_000;
/** Tickets kept at most (the oldest go first); a page asks for one per (re)connect. */
const MAX_TICKETS = 10_000;

export interface AttachTicket {
  /** The web sign-in's key (WebSession.key). */
  sessionKey: string;
  machineId: string;
  sessionId: string;
  expiresAt: number;
}

export interface AttachTickets {
  issue(sessionKey: string, machineId: string, sessionId: string): Promise<{ ticket: string; expiresAt: number }>;
  /** The ticket's sign-in key when it is valid for this machine and session; it is used up either way. */
  redeem(ticket: string, machineId: string, sessionId: string): Promise<string | undefined>;
}

const hash = (t: string) => createHash('sha256').update(t).digest('base64url');

/**
 * Tickets in the hub database (one_time_codes): with several replicas the page asks one replica
 * for a ticket and its WebSocket may reach another; either way a ticket is used once.
 */
export function createSharedAttachTickets(store: OneTimeCodeStore, now: () => number = Date.now): AttachTickets {
  return {
    async issue(sessionKey, machineId, sessionId) {
      const ticket = randomBytes(32).toString('base64url');
      const expiresAt = now() + ATTACH_TICKET_TTL_MS;
      await store.insertOneTimeCode({ kind: 'attach-ticket', hash: hash(ticket), payload: JSON.stringify({ sessionKey, machineId, sessionId }), expiresAt });
      return { ticket, expiresAt };
    },
    async redeem(ticket, machineId, sessionId) {
      const payload = await store.takeOneTimeCode('attach-ticket', hash(ticket), now());
      if (!payload) return undefined;
      const found = JSON.parse(payload) as Omit<AttachTicket, 'expiresAt'>;
      return found.machineId === machineId && found.sessionId === sessionId ? found.sessionKey : undefined;
    },
  };
}

/** Tickets in this process's memory (a web layer without a hub database: its unit tests). */
export function createAttachTickets(now: () => number = Date.now): AttachTickets {
  const tickets = new Map<string, AttachTicket>();
  return {
    async issue(sessionKey, machineId, sessionId) {
      const t = now();
      for (const [k, v] of tickets) {
        if (v.expiresAt > t && tickets.size < MAX_TICKETS) break;
        tickets.delete(k);
      }
      const ticket = randomBytes(32).toString('base64url');
      const expiresAt = t + ATTACH_TICKET_TTL_MS;
      tickets.set(hash(ticket), { sessionKey, machineId, sessionId, expiresAt });
      return { ticket, expiresAt };
    },
    async redeem(ticket, machineId, sessionId) {
      const key = hash(ticket);
      const found = tickets.get(key);
      tickets.delete(key);
      if (!found || found.expiresAt <= now() || found.machineId !== machineId || found.sessionId !== sessionId) return undefined;
      return found.sessionKey;
    },
  };
}
