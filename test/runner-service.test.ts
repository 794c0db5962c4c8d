// Issue 14 item 1: the runner at boot. The unit and the LaunchAgent are generated into a
// temporary directory and checked (systemd-analyze verify, python's plistlib); the unit's own
// ExecStart and Environment= start a runner that answers; a runner under a service manager hands
// off to an upgraded build by exiting with EXIT_SERVICE_RESTART once the new build passed its
// self-check (and keeps running when it does not), its sessions surviving; install, stop, start
// and uninstall run exactly the documented systemctl commands (a recording stand-in for
// systemctl, since no systemd user instance runs here).
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_SERVICE_RESTART } from '../src/shared/exit-codes.js';
import { servicePathsFor } from '../src/shared/paths.js';
import { CLI, FIXTURE_AGENT, REPO_ROOT, cleanupAllHomes, copyBuild, createTestHome, isAlive, waitFor, type TestHome } from './harness.js';

let th: TestHome | undefined;
afterEach(async () => {
  await th?.cleanup();
  th = undefined;
});
afterAll(cleanupAllHomes);

/** systemd's quoting, undone: the words of ExecStart, or the one word of an assignment. */
function unquote(text: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m; (m = re.exec(text)); ) out.push((m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!).replace(/%%/g, '%').replace(/\$\$/g, '$'));
  return out;
}

function parseUnit(text: string): { exec: string[]; env: Record<string, string>; keys: Map<string, string> } {
  const keys = new Map<string, string>();
  const env: Record<string, string> = {};
  let exec: string[] = [];
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (line.startsWith('#') || line.startsWith('[') || i < 0) continue;
    const [k, v] = [line.slice(0, i), line.slice(i + 1)];
    if (k === 'ExecStart') exec = unquote(v);
    else if (k === 'Environment') {
      const kv = unquote(v)[0]!;
      env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
    } else keys.set(k, v);
  }
  return { exec, env, keys };
}

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

describe('runner service files', () => {
  it('writes a systemd user unit that systemd-analyze accepts, and a LaunchAgent that parses', async () => {
    const t = (th = createTestHome({ PATH: `/opt/agents %x$y/bin:${process.env.PATH}` }));
    const r = await t.cli(['runner', 'install-service', '--print', '--workspace-root', t.home]);
    expect(r.code, r.stderr).toBe(0);
    const unitPath = servicePathsFor('systemd', t.env);
    expect(r.stderr).toContain(unitPath.file);
    const unit = parseUnit(r.stdout);
    expect(unit.exec).toEqual([process.execPath, CLI, 'runner', 'start-sync', '--workspace-root', t.home]);
    expect(unit.env).toEqual({ PATH: t.env.PATH, HAPI_HOME: t.home, HAPI_RUNNER_SERVICE: 'systemd' });
    expect(Object.fromEntries(unit.keys)).toMatchObject({
      Type: 'simple',
      Restart: 'on-failure',
      RestartForceExitStatus: String(EXIT_SERVICE_RESTART),
      KillMode: 'process',
      StartLimitIntervalSec: '300',
      StartLimitBurst: '5',
      WantedBy: 'default.target',
    });

    if (has('systemd-analyze')) {
      const dir = join(t.home, 'units');
      const run = join(t.home, 'run');
      mkdirSync(dir);
      mkdirSync(run, { mode: 0o700 });
      const file = join(dir, unitPath.name);
      writeFileSync(file, r.stdout);
      const v = spawnSync('systemd-analyze', ['verify', '--user', file], { env: { ...process.env, XDG_RUNTIME_DIR: run }, encoding: 'utf8' });
      expect(v.status, v.stderr).toBe(0);
      // It warns (exit 0) about unknown keys or bad values: none may concern our file.
      expect(v.stderr).not.toContain(file);
    } else {
      console.warn('SKIPPED: systemd-analyze is not installed; the unit was only checked by parsing');
    }

    const l = await t.cli(['runner', 'install-service', '--print', '--manager', 'launchd']);
    expect(l.code, l.stderr).toBe(0);
    const plistPath = join(t.home, 'agent.plist');
    writeFileSync(plistPath, l.stdout);
    const parsed = JSON.parse(
      execFileSync('python3', ['-c', 'import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1],"rb"))))', plistPath], { encoding: 'utf8' }),
    ) as Record<string, unknown>;
    const agent = servicePathsFor('launchd', t.env);
    expect(parsed).toEqual({
      Label: agent.name,
      ProgramArguments: [process.execPath, CLI, 'runner', 'start-sync'],
      EnvironmentVariables: { PATH: t.env.PATH, HAPI_HOME: t.home, HAPI_RUNNER_SERVICE: 'launchd' },
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      ThrottleInterval: 10,
      AbandonProcessGroup: true,
      StandardOutPath: join(t.home, 'logs', 'service.out.log'),
      StandardErrorPath: join(t.home, 'logs', 'service.err.log'),
    });
  });
});

describe('runner under a service manager', () => {
  it("the unit's ExecStart runs a runner; a hand-off exits with the restart status after the new build's self-check, never before", async () => {
    const t = (th = createTestHome({ HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}`, HAPI_RUNNER_HEARTBEAT_INTERVAL: '300' }));
    const cli = copyBuild(t.home);
    const r = await t.cli(['runner', 'install-service', '--print'], { cliPath: cli });
    const unit = parseUnit(r.stdout);
    expect(unit.exec[1]).toBe(cli);
    // As systemd starts it: the unit's command and environment (plus the test's settings).
    const start = () => {
      const child = spawn(unit.exec[0]!, unit.exec.slice(1), {
        env: { HOME: t.home, ...unit.env, HAPI_API_URL: t.env.HAPI_API_URL, HAPI_RUNNER_HEARTBEAT_INTERVAL: '300', HAPI_AGENT_CLAUDE_COMMAND: t.env.HAPI_AGENT_CLAUDE_COMMAND },
        stdio: 'ignore',
      });
      const exit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
      return { child, exit };
    };
    const first = start();
    await waitFor(() => t.state()?.pid === first.child.pid, 15_000, 'the unit runner');
    // A session, started through the runner: it must outlive the hand-off.
    const { createClient } = await import('nice-grpc');
    const { RunnerServiceDefinition } = await import('../gen/hapi/runner/v1/runner.js');
    const { createUdsChannel } = await import('../src/shared/grpc-channel.js');
    const channel = createUdsChannel(t.state()!.socketPath);
    const res = await createClient(RunnerServiceDefinition, channel).spawnSession({
      spec: { directory: t.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] },
    });
    channel.close();
    const session = res.outcome!.result!.$case === 'session' ? res.outcome!.result!.value : undefined;
    expect(session?.pid).toBeGreaterThan(0);

    // An upgrade to a build that cannot start: the runner keeps running and says why.
    const daemonChunk = join(t.home, 'cli', 'lazy', 'runner-daemon.mjs');
    const good = readFileSync(daemonChunk, 'utf8');
    writeFileSync(daemonChunk, `throw new Error('broken build: daemon chunk');\n${good}`);
    utimesSync(cli, new Date(), new Date(Date.now() + 60_000));
    const logPath = t.state()!.runnerLogPath;
    const logOf = () => readFileSync(logPath, 'utf8');
    await waitFor(() => logOf().includes('hand-off failed') && logOf().includes('broken build'), 20_000, 'the failed self-check in the log');
    expect(isAlive(first.child.pid!)).toBe(true);

    // The good build back: the runner exits with the status the unit restarts on.
    writeFileSync(daemonChunk, good);
    utimesSync(cli, new Date(), new Date(Date.now() + 120_000));
    expect(await first.exit).toBe(EXIT_SERVICE_RESTART);
    expect(logOf()).toContain('exiting so that the service manager restarts the runner');
    expect(isAlive(session!.pid)).toBe(true);

    // The manager's restart: the new runner re-adopts the session.
    const second = start();
    await waitFor(() => t.state()?.pid === second.child.pid, 15_000, 'the restarted runner');
    const list = await t.cli(['runner', 'list', '--json'], { cliPath: cli });
    expect((JSON.parse(list.stdout) as { sessions: { sessionId: string; pid: number }[] }).sessions.map((s) => s.pid)).toContain(session!.pid);
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
  });

  it('install, stop, start and uninstall run the documented systemctl commands and the unit runs the runner', async () => {
    const t = (th = createTestHome());
    const bin = join(t.home, 'bin');
    mkdirSync(bin);
    for (const name of ['systemctl', 'loginctl']) {
      symlinkSync(join(REPO_ROOT, 'test', 'fixtures', 'fake-systemctl.mjs'), join(bin, name));
    }
    chmodSync(join(REPO_ROOT, 'test', 'fixtures', 'fake-systemctl.mjs'), 0o755);
    const log = join(t.home, 'manager.log');
    const stateDir = join(t.home, 'manager');
    mkdirSync(stateDir);
    const env = { PATH: `${bin}:${process.env.PATH}`, XDG_CONFIG_HOME: join(t.home, 'config'), FAKE_MANAGER_LOG: log, FAKE_MANAGER_STATE: stateDir, USER: 'someone' };
    const commands = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as string[]).join(' ')) : []);
    const name = servicePathsFor('systemd', { ...t.env, ...env }).name;

    // A runner started by hand is stopped first: it would hold the lock the unit's runner needs.
    expect((await t.cli(['runner', 'start'], { env })).code).toBe(0);
    const manual = t.state()!.pid;
    const inst = await t.cli(['runner', 'install-service'], { env });
    expect(inst.code, inst.stderr).toBe(0);
    expect(inst.stdout).toContain(`Stopped runner PID ${manual}, which ran outside the service`);
    expect(inst.stdout).toContain('loginctl enable-linger someone');
    // hapi is not on this PATH: the printed command names node and the CLI file, and runs as printed.
    expect(inst.stdout).toContain(`Undo with: node ${CLI} runner uninstall-service`);
    expect(existsSync(join(t.home, 'config', 'systemd', 'user', name))).toBe(true);
    const unitPid = t.state()!.pid;
    expect(unitPid).not.toBe(manual);
    expect(readFileSync(`/proc/${unitPid}/environ`, 'utf8').split('\0')).toContain('HAPI_RUNNER_SERVICE=systemd');
    expect(commands()).toEqual([
      `systemctl --user is-active --quiet ${name}`,
      'systemctl --user daemon-reload',
      `systemctl --user enable --now ${name}`,
      'loginctl show-user someone --property=Linger',
    ]);

    const status = await t.cli(['runner', 'status'], { env });
    expect(status.stdout).toContain(`  Service:        systemd ${name} (`);
    const stop = await t.cli(['runner', 'stop'], { env });
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toContain(`Runner stopped through systemd (${name}), PID ${unitPid}`);
    expect(stop.stdout).toContain(`$ systemctl --user stop ${name}`);
    expect(isAlive(unitPid)).toBe(false);

    const again = await t.cli(['runner', 'start'], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`$ systemctl --user start ${name}`);
    expect(again.stdout).toMatch(/Runner started under systemd \(PID \d+\)/);

    const un = await t.cli(['runner', 'uninstall-service'], { env });
    expect(un.code, un.stderr).toBe(0);
    expect(commands().slice(-2)).toEqual([`systemctl --user disable --now ${name}`, 'systemctl --user daemon-reload']);
    expect(existsSync(join(t.home, 'config', 'systemd', 'user', name))).toBe(false);
    expect(t.state()).toBeUndefined();
    // Without the service, start and stop act directly again.
    const direct = await t.cli(['runner', 'start'], { env });
    expect(direct.stdout).toMatch(/Runner started \(PID \d+\)/);
  });
});
