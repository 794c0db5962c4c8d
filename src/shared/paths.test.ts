import { describe, expect, it } from 'vitest';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { hapiPaths, MAX_SOCKET_PATH_BYTES, resolveHapiHome, socketPathFor } from './paths.js';

describe('paths', () => {
  it('defaults HAPI_HOME to ~/.hapi', () => {
    expect(resolveHapiHome({})).toBe(join(homedir(), '.hapi'));
    expect(resolveHapiHome({ HAPI_HOME: '  ' })).toBe(join(homedir(), '.hapi'));
  });

  it('expands ~ and resolves relative paths', () => {
    expect(resolveHapiHome({ HAPI_HOME: '~/x' })).toBe(join(homedir(), 'x'));
    expect(resolveHapiHome({ HAPI_HOME: 'rel' })).toBe(join(process.cwd(), 'rel'));
  });

  it('derives every documented file from HAPI_HOME', () => {
    const p = hapiPaths({ HAPI_HOME: '/srv/h' });
    expect(p.stateFile).toBe('/srv/h/runner.state.json');
    expect(p.lockFile).toBe('/srv/h/runner.state.json.lock');
    expect(p.socket).toBe('/srv/h/runner.sock');
    expect(p.logsDir).toBe('/srv/h/logs');
    expect(p.hubDb).toBe('/srv/h/hub.db');
  });

  it('falls back to a short runtime socket path when HAPI_HOME is too deep', () => {
    const deep = `/tmp/${'d'.repeat(120)}`;
    const sock = socketPathFor(deep);
    expect(sock).not.toContain(deep);
    expect(sock).toMatch(/hapi-.+\/[0-9a-f]{16}\.sock$/);
    expect(Buffer.byteLength(sock)).toBeLessThanOrEqual(MAX_SOCKET_PATH_BYTES);
    // Stable for the same home, different for another.
    expect(socketPathFor(deep)).toBe(sock);
    expect(socketPathFor(`${deep}x`)).not.toBe(sock);
  });
});
