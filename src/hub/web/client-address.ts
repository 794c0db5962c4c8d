/**
 * Who a request comes from, for rate limits: the peer address of the connection, or, when that
 * peer is one of the configured trusted proxies (HAPI_WEB_TRUSTED_PROXIES), the address those
 * proxies recorded in X-Forwarded-For. Anyone else's X-Forwarded-For is ignored: a client could
 * write any address there and so escape its limit.
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** Addresses and CIDR ranges (`10.0.0.0/8`, `::1`) as the config parsed them. */
export function trustedProxyList(entries: readonly string[]): BlockList | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/') as [string, string | undefined];
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

/** `::ffff:1.2.3.4` -> `1.2.3.4`; `[::1]` -> `::1`; anything that is no IP address -> undefined. */
function normalize(text: string | undefined): string | undefined {
  if (!text) return undefined;
  let a = text.trim();
  if (a.startsWith('[') && a.includes(']')) a = a.slice(1, a.indexOf(']'));
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(a)) a = a.slice(7);
  return isIP(a) ? a : undefined;
}

function isTrusted(address: string, trusted: BlockList): boolean {
  return trusted.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * The client's address: from the connection's peer, or, while the hops are trusted proxies,
 * the nearest X-Forwarded-For entry (right to left) that is not one. A malformed entry ends the
 * walk at the last trusted hop.
 */
export function clientAddress(req: IncomingMessage, trusted: BlockList | undefined): string {
  let current = normalize(req.socket.remoteAddress) ?? 'unknown';
  if (!trusted || current === 'unknown') return current;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').filter((h) => h.trim() !== '');
  while (isTrusted(current, trusted) && hops.length > 0) {
    const next = normalize(hops.pop());
    if (!next) break;
    current = next;
  }
  return current;
}
