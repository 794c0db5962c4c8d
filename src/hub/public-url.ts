/**
 * The address people and phones use to reach the hub's web page: HAPI_HUB_PUBLIC_URL when set
 * (a reverse proxy, Tailscale serve, a tunnel), else where the hub listens, with a hub
 * listening on every interface named by this machine's first LAN address (a phone cannot use
 * 127.0.0.1). Every link the hub makes starts with it.
 */
import { networkInterfaces } from 'node:os';

/** True for an address that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

/** This machine's first non-internal IPv4 address (then IPv6), or undefined. */
export function firstLanAddress(): string | undefined {
  const all = Object.values(networkInterfaces()).flatMap((l) => l ?? []).filter((a) => !a.internal);
  return all.find((a) => a.family === 'IPv4')?.address ?? all.find((a) => a.family === 'IPv6' && !a.address.startsWith('fe80:'))?.address;
}

/** The public HTTP(S) origin of a hub listening on `host`:`httpPort`. */
export function publicHubUrl(o: { publicUrl?: string; host: string; httpPort: number; tls: boolean }): string {
  if (o.publicUrl) return o.publicUrl;
  const any = o.host === '0.0.0.0' || o.host === '::' || o.host === '';
  const host = any ? (firstLanAddress() ?? '127.0.0.1') : o.host;
  const h = host.includes(':') ? `[${host}]` : host;
  return `${o.tls ? 'https' : 'http'}://${h}:${o.httpPort}`;
}
