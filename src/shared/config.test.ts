import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { attachConfig, clientConfig, envBool, envInt, hubConfig, hubLinkConfig, logLevel, parseHubUrl, runnerConfig, sessionConfig } from './config.js';

describe('configuration', () => {
  it('uses documented defaults', () => {
    const cfg = runnerConfig({});
    expect(cfg.heartbeatIntervalMs).toBe(60_000);
    expect(cfg.httpTimeoutMs).toBe(10_000);
    expect(cfg.sessionReportTimeoutMs).toBe(15_000);
    expect(cfg.maxSessions).toBe(64);
    expect(cfg.warnings).toEqual([]);
    expect(clientConfig({}).httpTimeoutMs).toBe(10_000);
    expect(hubLinkConfig({}).apiUrl).toBe('http://127.0.0.1:3737');
    expect(sessionConfig({})).toEqual({
      reportTimeoutMs: 15_000,
      lateReportIntervalMs: 10_000,
      scrollback: 5_000,
      ringBytes: 4 * 1024 * 1024,
      viewerWindowBytes: 2 * 1024 * 1024,
      logMaxBytes: 10 * 1024 * 1024,
      spoolMaxBytes: 256 * 1024 * 1024,
      cpuNice: 10,
      idleMs: 5_000,
      approvalTimeoutMs: 600_000,
      terminalActiveMs: 120_000,
      promptWaitMs: 30_000,
    });
    expect(sessionConfig({ HAPI_SESSION_SCROLLBACK: '0' }).scrollback).toBe(0);
    expect(sessionConfig({ HAPI_SESSION_RING_BYTES: '1048576', HAPI_SESSION_LOG_MAX_BYTES: '65536', HAPI_SESSION_SPOOL_MAX_BYTES: '0' })).toMatchObject({ ringBytes: 1_048_576, logMaxBytes: 65_536, spoolMaxBytes: 0 });
  });

  it('reads overrides', () => {
    const cfg = runnerConfig({ HAPI_RUNNER_HEARTBEAT_INTERVAL: '30000', HAPI_RUNNER_HTTP_TIMEOUT: ' 15000 ' });
    expect(cfg.heartbeatIntervalMs).toBe(30_000);
    expect(cfg.httpTimeoutMs).toBe(15_000);
  });

  it('rejects a non-number with a message naming the variable', () => {
    expect(() => runnerConfig({ HAPI_RUNNER_HEARTBEAT_INTERVAL: 'soon' })).toThrow(ConfigError);
    expect(() => runnerConfig({ HAPI_RUNNER_HEARTBEAT_INTERVAL: 'soon' })).toThrow(/HAPI_RUNNER_HEARTBEAT_INTERVAL must be an integer, got "soon"/);
    expect(() => clientConfig({ HAPI_RUNNER_HTTP_TIMEOUT: '1.5' })).toThrow(/HAPI_RUNNER_HTTP_TIMEOUT must be an integer/);
    expect(() => runnerConfig({ HAPI_RUNNER_MAX_SESSIONS: '0' })).toThrow(/at least 1/);
    expect(() => sessionConfig({ HAPI_SESSION_REPORT_RETRY_MS: '10' })).toThrow(/HAPI_SESSION_REPORT_RETRY_MS must be at least 100/);
    expect(() => sessionConfig({ HAPI_SESSION_SCROLLBACK: 'lots' })).toThrow(/HAPI_SESSION_SCROLLBACK must be an integer/);
    expect(() => sessionConfig({ HAPI_SESSION_SCROLLBACK: '1000000' })).toThrow(/HAPI_SESSION_SCROLLBACK must be at most 100000/);
    expect(() => sessionConfig({ HAPI_SESSION_RING_BYTES: '100' })).toThrow(/HAPI_SESSION_RING_BYTES must be at least 65536/);
    expect(() => sessionConfig({ HAPI_SESSION_LOG_MAX_BYTES: '1' })).toThrow(/HAPI_SESSION_LOG_MAX_BYTES must be at least 65536/);
  });

  it('warns (but accepts) unusual heartbeat intervals', () => {
    expect(runnerConfig({ HAPI_RUNNER_HEARTBEAT_INTERVAL: '1000' }).warnings[0]).toMatch(/below 10000/);
    expect(runnerConfig({ HAPI_RUNNER_HEARTBEAT_INTERVAL: '600000' }).warnings[0]).toMatch(/above 300000/);
  });

  it('parses integers and booleans strictly', () => {
    expect(envInt({ X: '42' }, 'X', 1)).toBe(42);
    expect(envInt({ X: '' }, 'X', 7)).toBe(7);
    expect(() => envInt({ X: '1e3' }, 'X', 1)).toThrow(/X must be an integer/);
    expect(() => envInt({ X: '99999999999999999999' }, 'X', 1)).toThrow(/out of range/);
    expect(envBool({ B: 'yes' }, 'B', false)).toBe(true);
    expect(envBool({ B: 'off' }, 'B', true)).toBe(false);
    expect(() => envBool({ B: 'maybe' }, 'B', true)).toThrow(/B must be a boolean/);
  });

  it('validates the log level', () => {
    expect(logLevel({ HAPI_LOG_LEVEL: 'DEBUG' })).toBe('debug');
    expect(() => logLevel({ HAPI_LOG_LEVEL: 'loud' })).toThrow(/HAPI_LOG_LEVEL must be one of/);
  });

  it('parses hub URLs', () => {
    expect(parseHubUrl('http://127.0.0.1:4000')).toMatchObject({ host: '127.0.0.1', port: 4000, tls: false, target: '127.0.0.1:4000' });
    expect(parseHubUrl('https://hub.example.com')).toMatchObject({ port: 443, tls: true });
    expect(parseHubUrl('localhost:5000')).toMatchObject({ host: 'localhost', port: 5000 });
    expect(parseHubUrl('http://[::1]:7000').target).toBe('[::1]:7000');
    expect(() => parseHubUrl('ftp://x')).toThrow(/http:\/\/ or https:\/\//);
    expect(() => hubLinkConfig({ HAPI_API_URL: 'http://exa mple' })).toThrow(/HAPI_API_URL is not a valid URL/);
  });

  it('requires TLS cert and key together', () => {
    expect(() => hubConfig({ HAPI_HUB_TLS_CERT: '/c.pem' })).toThrow(/must be set together/);
    expect(hubConfig({}).spawnDeadlineMs).toBeGreaterThan(runnerConfig({}).sessionReportTimeoutMs);
  });

  it('HAPI_HUB_DATABASE_URL selects PostgreSQL: a postgres:// or postgresql:// URL, nothing else', () => {
    expect(hubConfig({}).databaseUrl).toBeUndefined();
    expect(hubConfig({ HAPI_HUB_DATABASE_URL: ' ' }).databaseUrl).toBeUndefined();
    expect(hubConfig({ HAPI_HUB_DATABASE_URL: 'postgres://u:p@db:5432/hapi' }).databaseUrl).toBe('postgres://u:p@db:5432/hapi');
    expect(hubConfig({ HAPI_HUB_DATABASE_URL: 'postgresql://db/hapi?sslmode=require' }).databaseUrl).toBe('postgresql://db/hapi?sslmode=require');
    expect(() => hubConfig({ HAPI_HUB_DATABASE_URL: 'mysql://db/hapi' })).toThrow(/HAPI_HUB_DATABASE_URL must start with postgres:\/\//);
    expect(() => hubConfig({ HAPI_HUB_DATABASE_URL: 'not a url' })).toThrow(/HAPI_HUB_DATABASE_URL must be a URL/);
  });

  it('sizes the PostgreSQL pool and the runner-connect admission from the environment, leaving two connections for the rest', () => {
    const pg = { HAPI_HUB_DATABASE_URL: 'postgres://db/hapi' };
    expect(hubConfig(pg)).toMatchObject({ databasePoolMax: 10, connectConcurrency: 8, connectQueue: 10000 });
    expect(hubConfig({ ...pg, HAPI_HUB_DATABASE_POOL_MAX: '30' })).toMatchObject({ databasePoolMax: 30, connectConcurrency: 28 });
    expect(hubConfig({ ...pg, HAPI_HUB_DATABASE_POOL_MAX: '2' }).connectConcurrency).toBe(1);
    expect(hubConfig({ ...pg, HAPI_HUB_CONNECT_CONCURRENCY: '3', HAPI_HUB_CONNECT_QUEUE: '0' })).toMatchObject({ connectConcurrency: 3, connectQueue: 0 });
    expect(hubConfig({}).connectConcurrency).toBe(8);
    expect(() => hubConfig({ ...pg, HAPI_HUB_DATABASE_POOL_MAX: '1' })).toThrow(/HAPI_HUB_DATABASE_POOL_MAX must be at least 2/);
    expect(() => hubConfig({ HAPI_HUB_CONNECT_CONCURRENCY: '0' })).toThrow(/HAPI_HUB_CONNECT_CONCURRENCY must be at least 1/);
  });
});

describe('HAPI_DETACH_KEY', () => {
  it('defaults to Ctrl-\\, reads caret notation and none, and refuses anything else', () => {
    expect(attachConfig({}).detachKey).toBe(0x1c);
    expect(attachConfig({ HAPI_DETACH_KEY: '^]' }).detachKey).toBe(0x1d);
    expect(attachConfig({ HAPI_DETACH_KEY: '^\\' }).detachKey).toBe(0x1c);
    expect(attachConfig({ HAPI_DETACH_KEY: '^a' }).detachKey).toBe(0x01);
    expect(attachConfig({ HAPI_DETACH_KEY: '^@' }).detachKey).toBe(0x00);
    expect(attachConfig({ HAPI_DETACH_KEY: '^?' }).detachKey).toBe(0x7f);
    expect(attachConfig({ HAPI_DETACH_KEY: ' NONE ' }).detachKey).toBeUndefined();
    for (const bad of ['x', '^', '^1', 'C-a', '^]]', 'ctrl-\\']) {
      expect(() => attachConfig({ HAPI_DETACH_KEY: bad })).toThrow(ConfigError);
    }
    expect(() => attachConfig({ HAPI_DETACH_KEY: 'C-a' })).toThrow(/HAPI_DETACH_KEY must be a control key in caret notation/);
  });
});
