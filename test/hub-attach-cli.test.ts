// `hapi attach --machine` through the hub, inside a real terminal (node-pty, rendered with a
// headless xterm), from a home with no runner of its own ("the laptop"): a real hub, a real
// runner and a session of the fixture TUI agent. The screen, keys, resize, the detach key (exit
// 0, the session runs on), a read-only token (keys refused with a notice), the session's exit
// code, an ended session's final screen, unknown machine or session (4), and a hub restart
// ridden out from the last offset (no snapshot, no duplicate). `npm run build` first.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TokenScope } from '../gen/hapi/hub/v1/hub.js';
import { cleanupAllHomes, createTestHome, waitFor } from './harness.js';
import { startHubProcess, type HubProcess } from './hub-helpers.js';
import { hubSession, type Tracked } from './hub-viewer.js';
import { hapiPtyTerminal, ttyNormal, type HapiPtyTerminal, type PtyTerminal } from './pty-terminal.js';

const t: Tracked = { homes: [], hubs: [], closers: [] };
afterEach(async () => {
  for (const close of t.closers.splice(0)) close();
  for (const h of t.hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of t.homes.splice(0)) await th.cleanup();
});
afterAll(cleanupAllHomes);

/** A home that knows only the hub: whatever it reaches, it reaches through the hub. */
function laptop(h: HubProcess, token = h.ownerToken) {
  const th = createTestHome({ HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: token });
  t.homes.push(th);
  return th;
}

const shown = (a: PtyTerminal, text: string, what = JSON.stringify(text), ms = 20_000) =>
  waitFor(async () => (await a.screen()).includes(text), ms, what);

/** After `sh` printed hapi's exit code: that code, and whether the terminal was given back as it was. */
async function ended(a: HapiPtyTerminal) {
  await a.finished();
  const raw = a.raw();
  const at = raw.lastIndexOf('hapi-exit=');
  return { code: Number(/hapi-exit=(\d+)/.exec(raw.slice(at))?.[1]), restored: ttyNormal(raw.slice(at)) };
}

describe('hapi attach --machine: a terminal attached through the hub', () => {
  it('screen, keys, resize; detach key -> 0 and the session runs on; read-only token; the session exit code; ended, unknown', { timeout: 120_000 }, async () => {
    const { h, c, machineId, sessionId } = await hubSession(t, {}, ['--exit-code', '5']);
    const remote = laptop(h);
    const attach = ['attach', '--machine', machineId.slice(0, 8), sessionId.slice(0, 8)];

    const a = hapiPtyTerminal(remote, attach, t.closers);
    await shown(a, 'fixture tui', 'the screen through the hub');
    a.pty.write('abc');
    await shown(a, 'got "abc"', 'the answer to typed keys');
    a.resize(100, 30);
    await a.until('size 100x30');
    a.pty.write('\x1c');
    expect(await ended(a)).toEqual({ code: 0, restored: true });
    expect(a.raw()).toContain(`[detached from session ${sessionId}; it keeps running. Back with: hapi attach --machine ${machineId} ${sessionId}]`);
    const after = await c.hub.getSessionScreen({ machineId, sessionId });
    expect(after.screen?.ended).toBe(false);
    expect(after.screen?.screen?.text).toContain('got "abc"');

    // A read-only token watches: typed keys go nowhere and the terminal says why.
    const ro = await c.tokens.createToken({ namespace: 'default', label: 'ro', scope: TokenScope.TOKEN_SCOPE_READ_ONLY });
    const r = hapiPtyTerminal(laptop(h, ro.token), ['attach', '--machine', machineId, sessionId], t.closers);
    await shown(r, 'got "abc"', 'the read-only screen');
    r.pty.write('x');
    await r.until('read-only token: keys are not sent; detach with ^\\');
    await c.hub.sendInput({ machineId, sessionId, input: { data: Buffer.from('y'), text: '', enter: false } });
    await shown(r, 'got "y"', 'live output to the read-only viewer');
    expect(r.raw()).not.toContain('got "x"');
    r.pty.write('\x1c');
    expect(await ended(r)).toEqual({ code: 0, restored: true });

    // The session ends while attached: its exit code is hapi's.
    const e = hapiPtyTerminal(remote, attach, t.closers);
    await shown(e, 'got "y"', 'the screen again');
    e.pty.write('\x04');
    expect(await ended(e)).toEqual({ code: 5, restored: true });
    expect(e.raw()).toContain(`[session ${sessionId} ended: exit code 5]`);

    // Ended: its final screen and how it ended, no terminal needed.
    const finalScreen = await remote.cli(attach);
    expect(finalScreen.code, finalScreen.stderr).toBe(5);
    expect(finalScreen.stderr).toContain(`[session ${sessionId} ended: exit code 5]`);

    // Failures before attaching: hapi's own codes, the terminal untouched.
    const noMachine = await remote.cli(['attach', '--machine', 'no-such-machine', sessionId]);
    expect(noMachine.code, noMachine.stderr).toBe(4);
    expect(noMachine.stderr).toContain('no machine matches "no-such-machine"');
    expect((await remote.cli(['attach', '--machine', machineId, 'no-such-session'])).code).toBe(4);
    expect((await remote.cli(['attach', '--machine', machineId])).code).toBe(2);
    const inPty = hapiPtyTerminal(remote, ['attach', '--machine', 'no-such-machine', sessionId], t.closers);
    expect(await ended(inPty)).toEqual({ code: 4, restored: true });
  });

  it('hub restart while attached: the terminal stays attached and gets what it missed, without a snapshot or a duplicate', { timeout: 120_000 }, async () => {
    const { hubHome, h, th, machineId, sessionId } = await hubSession(t);
    const a = hapiPtyTerminal(laptop(h), ['attach', '--machine', machineId, sessionId], t.closers);
    await shown(a, 'fixture tui');
    a.pty.write('a');
    await shown(a, 'got "a"');
    const ports = { HAPI_HUB_GRPC_PORT: new URL(h.grpcUrl).port, HAPI_HUB_HTTP_PORT: new URL(h.httpUrl).port };
    await h.stop('SIGTERM');
    // Output while the hub is down: it must reach the terminal after the restart.
    expect((await th.cli(['send', sessionId, 'b'])).code).toBe(0);
    const h2 = await startHubProcess(hubHome, ports, h.ownerToken);
    t.hubs.push(h2);
    // The runner links again with its backoff, then the hub attaches through it.
    await shown(a, 'pasted "b"', 'the output missed while the hub was down', 45_000);
    a.pty.write('c');
    await shown(a, 'got "c"', 'live again through the new hub');
    // Resumed from its offset: no screen repaint from a snapshot, nothing twice.
    expect(a.raw().match(/got "a"/g)).toHaveLength(1);
    expect(a.raw().match(/\x1b\[H\x1b\[2J/g) ?? []).toHaveLength(1);
    a.pty.write('\x1c');
    expect(await ended(a)).toEqual({ code: 0, restored: true });
  });
});
