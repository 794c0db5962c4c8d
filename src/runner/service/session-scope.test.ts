import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { launchSession } from '../sessions/spawner.js';
import { createSessionScopes, scopePrefix } from './session-scope.js';

const dirs: string[] = [];
const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A `systemd-run` on PATH that records its calls and exits with `code`. */
function fakeSystemdRun(code: number): { calls: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'hapi-scope-'));
  dirs.push(dir);
  const calls = join(dir, 'calls');
  writeFileSync(join(dir, 'systemd-run'), `#!/bin/sh\necho "$*" >> ${calls}\necho "Failed to connect to bus: No medium found" >&2\nexit ${code}\n`);
  chmodSync(join(dir, 'systemd-run'), 0o755);
  process.env.PATH = `${dir}:${savedPath}`;
  return { calls: () => readFileSync(calls, 'utf8').trim().split('\n') };
}

function recordingLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

describe('session scopes', () => {
  it('uses systemd-run scopes when the trial works, detecting once', async () => {
    const fake = fakeSystemdRun(0);
    const { log, lines } = recordingLog();
    const prefix = createSessionScopes({ enabled: true, log });
    expect(await prefix('abc')).toEqual(scopePrefix('abc'));
    expect(await prefix('def')).toEqual(['systemd-run', '--user', '--scope', '--quiet', '--collect', '--unit=hapi-session-def', '--description=hapi session', '--']);
    expect(fake.calls()).toEqual(['--user --scope --quiet --collect -- true']);
    expect(lines.map((l) => l.msg)).toEqual(['sessions run in their own systemd scopes (systemd-run --user --scope)']);
  });

  it('falls back silently to no prefix when systemd-run fails, and logs why once', async () => {
    const fake = fakeSystemdRun(1);
    const { log, lines } = recordingLog();
    const prefix = createSessionScopes({ enabled: true, log });
    expect(await prefix('a')).toEqual([]);
    expect(await prefix('b')).toEqual([]);
    expect(fake.calls()).toHaveLength(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.why).toContain('No medium found');
  });

  it('never runs systemd-run outside a systemd unit', async () => {
    fakeSystemdRun(0);
    const prefix = createSessionScopes({ enabled: false, log: recordingLog().log });
    expect(await prefix('a')).toEqual([]);
  });

  it('a prefix that execs the session keeps the PID the runner sees', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapi-scope-'));
    dirs.push(dir);
    // What systemd-run --scope does after registering the scope: exec the command in place.
    const wrapper = join(dir, 'wrap');
    writeFileSync(wrapper, '#!/bin/sh\nwhile [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"\n');
    chmodSync(wrapper, 0o755);
    const script = join(dir, 'fake-cli.cjs');
    writeFileSync(script, 'setTimeout(() => {}, 5000);\n');
    const launched = await launchSession({ sessionId: 's1', agent: 'claude', agentArgs: [], directory: dir, cliPath: script, logsDir: dir, prefix: [wrapper, '--unit=x', '--'] });
    try {
      // Once the wrapper exec'd, the PID spawn returned runs node with the session's argv.
      const deadline = Date.now() + 5_000;
      let argv: string[] = [];
      while (Date.now() < deadline) {
        argv = readFileSync(`/proc/${launched.pid}/cmdline`, 'utf8').split('\0');
        if (argv[0] === process.execPath) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(argv[0]).toBe(process.execPath);
      expect(argv).toContain(script);
      expect(argv).toContain('--hapi-session-id');
    } finally {
      launched.child.kill('SIGKILL');
      await launched.exited;
    }
  });
});
