/**
 * Web Push end to end on a real in-process hub: browsers' subscriptions of the test's own (a
 * P-256 key pair and auth secret from node:crypto) are registered over REST; a notification
 * reaches a local push endpoint encrypted (aes128gcm, RFC 8291) and VAPID-signed with the hub's
 * key; the test decrypts it and checks the payload: Approve / Deny with the request id for a full
 * sign-in, none for a read-only one, nothing for another namespace; an expired subscription
 * (410) is deleted; an endpoint that is not a push service is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDecipheriv, createECDH, hkdfSync, randomBytes, type ECDH } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hubConfig } from '../src/shared/config.js';
import { webConfig } from '../src/shared/config-web.js';
import { silentLogger } from '../src/shared/logger.js';
import { hapiPaths } from '../src/shared/paths.js';
import { startHub, type RunningHub } from '../src/hub/server.js';
import { hello, owner, session } from '../src/hub/domain/test-support.js';
import type { ActivityEvent } from '../src/hub/domain/notify/activity-event.js';
import { startHubNotifications, type HubNotifications } from '../src/hub/notify/hub-notify.js';
import { waitFor } from './harness.js';

interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A browser's side of a subscription: its key pair and auth secret. */
function browser(): { ecdh: ECDH; auth: Buffer } {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { ecdh, auth: randomBytes(16) };
}

/** Decrypts an aes128gcm Web Push message (RFC 8291 section 3.4, RFC 8188) as a browser does. */
function decrypt(b: { ecdh: ECDH; auth: Buffer }, body: Buffer): unknown {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  const serverKey = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  expect(ciphertext.length).toBeLessThanOrEqual(rs);
  const secret = b.ecdh.computeSecret(serverKey);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), b.ecdh.getPublicKey(), serverKey]);
  const ikm = Buffer.from(hkdfSync('sha256', secret, b.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  expect(padded[end]).toBe(2); // the last record's delimiter
  return JSON.parse(padded.subarray(0, end).toString('utf8'));
}

describe('Web Push notifications', () => {
  let hub: RunningHub;
  let home: string;
  let push: Server;
  let pushUrl: string;
  let notifications: HubNotifications;
  const received: Received[] = [];
  const listeners = new Set<(e: ActivityEvent) => void>();
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    push = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(req.url?.startsWith('/gone') ? 410 : 201).end();
      });
    });
    await new Promise<void>((r) => push.listen(0, '127.0.0.1', r));
    pushUrl = `http://127.0.0.1:${(push.address() as AddressInfo).port}`;
    home = mkdtempSync(join(tmpdir(), 'hapi-notify-push-'));
    const e = { HAPI_HOME: home, HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', HAPI_PUSH_ALLOW_LOOPBACK_HTTP: 'true' };
    hub = await startHub({ config: hubConfig(e), paths: hapiPaths(e), log: silentLogger(), shutdownGraceMs: 500 });
    tokens.full = (await hub.core.createToken(owner, 'default', 'phone')).token;
    tokens.reader = (await hub.core.createToken(owner, 'default', 'watcher', 'read-only')).token;
    tokens.other = (await hub.core.createToken(owner, 'teamb', 'other')).token;
    const sink = { send: () => undefined, close: () => undefined };
    await hub.core.attachMachine({ namespace: 'default', owner: false, tokenId: 'x', scope: 'full' }, hello('m1', { sessions: [session('s1', { directory: '/src/app' })] }), sink);
    notifications = await startHubNotifications({
      core: hub.core,
      store: hub.store,
      log: silentLogger(),
      config: webConfig({ HAPI_NOTIFY_COALESCE_MS: '10', HAPI_HUB_PUBLIC_URL: 'https://hapi.example.com' }),
      source: { subscribe: (l) => (listeners.add(l), () => listeners.delete(l)) },
    });
  });
  afterAll(async () => {
    await notifications?.close();
    await hub?.close();
    await new Promise((r) => push?.close(r));
    rmSync(home, { recursive: true, force: true });
  });

  async function call(token: string, method: string, path: string, body?: unknown) {
    const res = await fetch(`${hub.httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  const subscription = (b: { ecdh: ECDH; auth: Buffer }, path: string) => ({
    endpoint: `${pushUrl}${path}`,
    expirationTime: null,
    keys: { p256dh: b.ecdh.getPublicKey().toString('base64url'), auth: b.auth.toString('base64url') },
  });
  const emit = (e: ActivityEvent) => listeners.forEach((l) => l(e));

  it('delivers encrypted, VAPID-signed pushes to the namespace\'s subscriptions; actions only where deciding is allowed', async () => {
    const phone = browser();
    const watcher = browser();
    const stranger = browser();
    const key = await call(tokens.full!, 'GET', '/api/v1/push/key');
    expect(key.body.publicKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
    expect(await call(tokens.full!, 'POST', '/api/v1/push/subscriptions', subscription(phone, '/phone'))).toEqual({ status: 200, body: { subscribed: true } });
    expect((await call(tokens.reader!, 'POST', '/api/v1/push/subscriptions', subscription(watcher, '/watcher'))).status).toBe(200);
    expect((await call(tokens.other!, 'POST', '/api/v1/push/subscriptions', subscription(stranger, '/stranger'))).status).toBe(200);

    emit({
      namespace: 'default',
      machineId: 'm1',
      sessionId: 's1',
      state: 'needs_approval',
      requests: [{ id: 'req-7', tool: 'Bash', command: 'npm publish', file: '', description: '', choices: ['allow', 'deny'] }],
      at: new Date(),
    });
    await waitFor(() => received.length >= 2);
    await notifications.notifier.idle();
    expect(received.map((r) => r.path).sort()).toEqual(['/phone', '/watcher']);
    const toPhone = received.find((r) => r.path === '/phone')!;
    expect(toPhone.headers['content-encoding']).toBe('aes128gcm');
    expect(toPhone.headers.urgency).toBe('high');
    expect(toPhone.headers.ttl).toBe('3600');
    expect(toPhone.headers.authorization).toMatch(new RegExp(`^vapid t=[\\w-]+\\.[\\w-]+\\.[\\w-]+, k=${key.body.publicKey as string}$`));
    expect(decrypt(phone, toPhone.body)).toEqual({
      v: 1,
      title: 'Needs your approval: app (claude) on m1',
      body: 'Bash: npm publish',
      tag: 'hapi:m1/s1',
      machineId: 'm1',
      sessionId: 's1',
      state: 'needs_approval',
      requestId: 'req-7',
      actions: [{ action: 'approve', title: 'Approve' }, { action: 'deny', title: 'Deny' }],
    });
    expect(decrypt(watcher, received.find((r) => r.path === '/watcher')!.body)).toMatchObject({ state: 'needs_approval', actions: [] });
    // Encrypted for one browser only: another's keys cannot read it.
    expect(() => decrypt(stranger, toPhone.body)).toThrow();
  });

  it('deletes a subscription the push service says is gone, and refuses endpoints that are not push services', async () => {
    const old = browser();
    expect((await call(tokens.full!, 'POST', '/api/v1/push/subscriptions', subscription(old, '/gone/1'))).status).toBe(200);
    expect((await hub.store.listPushSubscriptions('default')).map((s) => s.endpoint)).toContain(`${pushUrl}/gone/1`);
    received.length = 0;
    emit({ namespace: 'default', machineId: 'm1', sessionId: 's1', state: 'waiting_for_input', requests: [], at: new Date() });
    await waitFor(() => received.some((r) => r.path === '/gone/1'));
    await notifications.notifier.idle();
    expect((await hub.store.listPushSubscriptions('default')).map((s) => s.endpoint)).not.toContain(`${pushUrl}/gone/1`);

    const b = browser();
    for (const endpoint of ['http://10.0.0.1/push', 'file:///etc/passwd', 'https://user:pw@push.example/x']) {
      const r = await call(tokens.full!, 'POST', '/api/v1/push/subscriptions', { ...subscription(b, ''), endpoint });
      expect(r.status, endpoint).toBe(400);
    }
    expect((await call(tokens.full!, 'POST', '/api/v1/push/subscriptions', { ...subscription(b, '/x'), keys: { p256dh: 'AAAA', auth: 'AAAA' } })).status).toBe(400);
    // Another namespace cannot remove this one's subscription; its owner can.
    expect((await call(tokens.other!, 'POST', '/api/v1/push/subscriptions/delete', { endpoint: `${pushUrl}/phone` })).body).toEqual({ deleted: false });
    expect((await call(tokens.full!, 'POST', '/api/v1/push/subscriptions/delete', { endpoint: `${pushUrl}/phone` })).body).toEqual({ deleted: true });
  });
});
