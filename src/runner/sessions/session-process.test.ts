import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hapiOption, isHapiCli, sessionMarkOf } from './session-process.js';

describe('recognising a session process', () => {
  it('the hapi CLI is argv[1]: dist/hapi.cjs or an installed hapi, nothing else', () => {
    expect(isHapiCli(['node', '/repo/dist/hapi.cjs', 'runner'])).toBe(true);
    expect(isHapiCli(['node', '/usr/local/bin/hapi'])).toBe(true);
    expect(isHapiCli(['node', '--max-semi-space-size=2', '/repo/dist/hapi.cjs', '--hapi-starting-mode', 'remote'])).toBe(true);
    expect(isHapiCli(['node', '--max-semi-space-size=2', '/repo/other.js', 'hapi'])).toBe(false);
    expect(isHapiCli(['node', 'hapi.mjs'])).toBe(true);
    expect(isHapiCli(['node', '/x/not-hapi.cjs'])).toBe(false);
    expect(isHapiCli(['node', '-e', 'x', '--', '/x/hapi'])).toBe(false);
    expect(isHapiCli(['hapi'])).toBe(false);
    expect(isHapiCli([])).toBe(false);
  });

  it("hapi's own options stop at `--` (what follows belongs to the agent)", () => {
    const argv = ['node', 'hapi.cjs', '--started-by', 'runner', '--hapi-session-id', 's1', '--', '--agent', 'evil'];
    expect(hapiOption(argv, '--hapi-session-id')).toBe('s1');
    expect(hapiOption(argv, '--started-by')).toBe('runner');
    expect(hapiOption(argv, '--agent')).toBeUndefined();
    expect(hapiOption(['node', 'hapi.cjs', '--hapi-session-id=s1'], '--hapi-session-id')).toBeUndefined();
  });

  it("an environment's session mark: HAPI_SESSION_ID, HAPI_SESSION_PID and the HAPI_HOME it resolves to", () => {
    const env = (o: Record<string, string>) => new Map(Object.entries(o));
    expect(sessionMarkOf(undefined)).toBeUndefined();
    expect(sessionMarkOf(env({ HAPI_HOME: '/h' }))).toBeUndefined();
    expect(sessionMarkOf(env({ HAPI_SESSION_ID: '', HAPI_HOME: '/h' }))).toBeUndefined();
    expect(sessionMarkOf(env({ HAPI_SESSION_ID: 's1', HAPI_SESSION_PID: '42', HAPI_HOME: '~/x', HOME: '/home/u' }))).toEqual({
      sessionId: 's1',
      sessionPid: '42',
      home: '/home/u/x',
    });
    expect(sessionMarkOf(env({ HAPI_SESSION_ID: 's1' }))).toEqual({ sessionId: 's1', sessionPid: undefined, home: join(homedir(), '.hapi') });
  });
});
