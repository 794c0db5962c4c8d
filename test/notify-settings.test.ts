/**
 * Notification settings over REST on a real in-process hub: a full token mutes and unmutes a
 * session of its namespace and turns exit notifications on; a read-only token reads them but is
 * refused changes (403); another namespace's session is not found (404); bad bodies are 400.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hubConfig } from '../src/shared/config.js';
import { silentLogger } from '../src/shared/logger.js';
import { hapiPaths } from '../src/shared/paths.js';
import { startHub, type RunningHub } from '../src/hub/server.js';
import { hello, owner, session } from '../src/hub/domain/test-support.js';

describe('notification settings (REST)', () => {
  let hub: RunningHub;
  let home: string;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'hapi-notify-settings-'));
    const e = { HAPI_HOME: home, HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', HAPI_HUB_HOST: '127.0.0.1' };
    hub = await startHub({ config: hubConfig(e), paths: hapiPaths(e), log: silentLogger(), shutdownGraceMs: 500 });
    tokens.full = (await hub.core.createToken(owner, 'default', 'full')).token;
    tokens.reader = (await hub.core.createToken(owner, 'default', 'reader', 'read-only')).token;
    tokens.other = (await hub.core.createToken(owner, 'teamb', 'other')).token;
    const sink = { send: () => undefined, close: () => undefined };
    await hub.core.attachMachine({ namespace: 'default', owner: false, tokenId: 'x', scope: 'full' }, hello('m1', { sessions: [session('s1')] }), sink);
  });
  afterAll(async () => {
    await hub?.close();
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

  it('mutes a session and keeps exit notifications per namespace; read-only reads, never writes', async () => {
    expect(await call(tokens.full!, 'GET', '/api/v1/notifications/settings')).toEqual({ status: 200, body: { notifyOnExit: false, mutedSessions: [] } });
    expect(await call(tokens.full!, 'POST', '/api/v1/machines/m1/sessions/s1/mute', { muted: true })).toEqual({ status: 200, body: { muted: true } });
    expect(await hub.store.isSessionMuted('default', 'm1', 's1')).toBe(true);
    expect((await call(tokens.full!, 'POST', '/api/v1/notifications/settings', { notifyOnExit: true })).body).toEqual({
      notifyOnExit: true,
      mutedSessions: [{ machineId: 'm1', sessionId: 's1' }],
    });
    const read = await call(tokens.reader!, 'GET', '/api/v1/notifications/settings');
    expect(read.body).toMatchObject({ notifyOnExit: true });
    expect((await call(tokens.reader!, 'POST', '/api/v1/machines/m1/sessions/s1/mute', { muted: false })).status).toBe(403);
    expect((await call(tokens.reader!, 'POST', '/api/v1/notifications/settings', { notifyOnExit: false })).status).toBe(403);
    expect(await hub.store.isSessionMuted('default', 'm1', 's1')).toBe(true);
    // Another namespace sees its own (empty) settings and cannot touch this session.
    expect((await call(tokens.other!, 'GET', '/api/v1/notifications/settings')).body).toEqual({ notifyOnExit: false, mutedSessions: [] });
    expect((await call(tokens.other!, 'POST', '/api/v1/machines/m1/sessions/s1/mute', { muted: false })).status).toBe(404);
    expect((await call(tokens.full!, 'POST', '/api/v1/machines/m1/sessions/s1/mute', { muted: 'yes' })).status).toBe(400);
    expect((await call(tokens.full!, 'POST', '/api/v1/notifications/settings', { notifyOnExit: true, extra: 1 })).status).toBe(400);
    expect((await call(tokens.full!, 'POST', '/api/v1/machines/m1/sessions/s1/mute', { muted: false })).body).toEqual({ muted: false });
    expect(await hub.store.isSessionMuted('default', 'm1', 's1')).toBe(false);
  });
});
