import { afterEach, describe, expect, it, vi } from 'vitest';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { hapiPaths, isRuntimeSocketPath, MAX_SOCKET_PATH_BYTES, resolveHapiHome, sessionSocketPathFor, socketPathFor } from './paths.js';

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

  it("derives a session's socket under HAPI_HOME, or a short fallback distinct per session", () => {
    expect(sessionSocketPathFor('/srv/h', 'abc', {})).toBe('/srv/h/sessions/abc.sock');
    expect(isRuntimeSocketPath('/srv/h/sessions/abc.sock', {})).toBe(false);
    const deep = `/tmp/${'d'.repeat(80)}`;
    const a = sessionSocketPathFor(deep, 'a'.repeat(36), { XDG_RUNTIME_DIR: '/run/user/7' });
    expect(a).toMatch(/^\/run\/user\/7\/hapi-[^/]+\/s-[0-9a-f]{16}\.sock$/);
    expect(isRuntimeSocketPath(a, { XDG_RUNTIME_DIR: '/run/user/7' })).toBe(true);
    expect(sessionSocketPathFor(deep, 'b'.repeat(36), { XDG_RUNTIME_DIR: '/run/user/7' })).not.toBe(a);
    expect(a).not.toBe(socketPathFor(deep, { XDG_RUNTIME_DIR: '/run/user/7' }));
  });

  describe('runtime directory of the fallback socket', () => {
    afterEach(() => vi.unstubAllEnvs());
    const deep = `/tmp/${'d'.repeat(120)}`;

    it('comes from XDG_RUNTIME_DIR of the env it is given', () => {
      expect(hapiPaths({ HAPI_HOME: deep, XDG_RUNTIME_DIR: '/run/user/4242' }).socket).toMatch(/^\/run\/user\/4242\/hapi-[^/]+\/[0-9a-f]{16}\.sock$/);
    });

    it('ignores the process environment when another env is given', () => {
      vi.stubEnv('XDG_RUNTIME_DIR', '/run/user/from-process');
      expect(hapiPaths({ HAPI_HOME: deep }).socket).not.toContain('/run/user/from-process');
      expect(socketPathFor(deep, {})).not.toContain('/run/user/from-process');
    });
  });
});
