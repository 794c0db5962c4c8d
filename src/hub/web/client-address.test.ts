import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { clientAddress, trustedProxyList } from './client-address.js';

function req(peer: string, xff?: string | string[]): IncomingMessage {
  return { socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } } as unknown as IncomingMessage;
}

describe('client address', () => {
  it('is the peer, whatever X-Forwarded-For says, when no proxy is trusted or the peer is not one', () => {
    expect(clientAddress(req('203.0.113.7', '1.2.3.4'), undefined)).toBe('203.0.113.7');
    expect(clientAddress(req('::ffff:203.0.113.7', '1.2.3.4'), trustedProxyList(['10.0.0.1']))).toBe('203.0.113.7');
  });

  it('takes the nearest untrusted X-Forwarded-For entry behind trusted proxies', () => {
    const trusted = trustedProxyList(['127.0.0.1', '10.0.0.0/8', '::1']);
    expect(clientAddress(req('127.0.0.1', '198.51.100.9'), trusted)).toBe('198.51.100.9');
    // A client-written entry on the left does not count: the proxy appended the real one.
    expect(clientAddress(req('127.0.0.1', '1.1.1.1, 198.51.100.9, 10.2.3.4'), trusted)).toBe('198.51.100.9');
    expect(clientAddress(req('::1', ['1.1.1.1', '2001:db8::5']), trusted)).toBe('2001:db8::5');
    expect(clientAddress(req('::ffff:127.0.0.1', '10.0.0.5'), trusted)).toBe('10.0.0.5');
    expect(clientAddress(req('127.0.0.1'), trusted)).toBe('127.0.0.1');
    // A malformed entry ends the walk at the last trusted hop.
    expect(clientAddress(req('127.0.0.1', '1.1.1.1, not-an-ip'), trusted)).toBe('127.0.0.1');
  });
});
