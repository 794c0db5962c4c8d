// Live terminals through the hub (HubService.AttachSession, GetSessionScreen, SendInput), with a
// real hub, a real runner and a real session running the fixture TUI: type and see the answer,
// a read-only token that sees but cannot type, another namespace's session NOT_FOUND, and a
// viewer that survives a kill -9 of the runner (the hub attaches again through the runner's next
// link from the offset the viewer holds); the hub's HTTP/2 receive windows. `npm run build` first.
import { ClientError, Status } from 'nice-grpc';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TokenScope } from '../gen/hapi/hub/v1/hub.js';
import { AttachMode } from '../gen/hapi/session/v1/session.js';
import { connect } from 'node:http2';
import { once } from 'node:events';
import { HUB_CONNECTION_WINDOW_BYTES, HUB_STREAM_WINDOW_BYTES } from '../src/hub/grpc/receive-windows.js';
import { cleanupAllHomes, createTestHome, isAlive, waitFor } from './harness.js';
import { startHubProcess, waitMachine } from './hub-helpers.js';
import { hubSession, hubViewer, input, type Tracked } from './hub-viewer.js';

const t: Tracked = { homes: [], hubs: [], closers: [] };
afterEach(async () => {
  for (const close of t.closers.splice(0)) close();
  for (const h of t.hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of t.homes.splice(0)) await th.cleanup();
});
afterAll(cleanupAllHomes);

describe('terminals through the hub', () => {
  it('attach through the hub, type and see the answer; screen and send relayed; read-only and other namespaces', async () => {
    const { h, th, c, machineId, sessionId } = await hubSession(t);
    const v = hubViewer(t, () => c, machineId, sessionId);
    await waitFor(() => v.current().messages.length > 0, 10_000, 'the snapshot');
    expect(v.current().messages[0]!.kind?.$case).toBe('snapshot');
    v.send(input('a'));
    await waitFor(() => v.text().includes('got "a"'), 10_000, 'the echo through the hub');

    await c.hub.sendInput({ machineId, sessionId, input: { data: Buffer.alloc(0), text: 'hello', enter: false } });
    await waitFor(() => v.text().includes('pasted "hello"'), 10_000, 'the relayed SendInput');
    const screen = await c.hub.getSessionScreen({ machineId, sessionId });
    expect(screen.screen?.screen?.text).toContain('pasted "hello"');

    // The CLI through the hub: --machine takes the machine's id prefix, the session a unique prefix.
    const cliEnv = { env: { HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken } };
    const sent = await th.cli(['send', '--machine', machineId.slice(0, 8), sessionId.slice(0, 8), 'via cli', '--enter'], cliEnv);
    expect(sent.code, sent.stderr).toBe(0);
    await waitFor(() => v.text().includes('pasted "via cli"'), 10_000, 'hapi send --machine');
    const printed = await th.cli(['screen', '--machine', machineId, sessionId], cliEnv);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toContain('pasted "via cli"');
    expect((await th.cli(['screen', '--machine', machineId, 'nope'], cliEnv)).code).toBe(4);

    // A read-only token sees the screen, but typing ends its stream with PERMISSION_DENIED.
    const ro = await c.tokens.createToken({ namespace: 'default', label: 'ro', scope: TokenScope.TOKEN_SCOPE_READ_ONLY });
    const roClients = h.clients(ro.token);
    const rv = hubViewer(t, () => roClients, machineId, sessionId);
    await waitFor(() => rv.current().messages.some((m) => m.kind?.$case === 'snapshot'), 10_000, 'the read-only snapshot');
    v.send(input('b'));
    await waitFor(() => rv.text().includes('got "b"'), 10_000, 'the read-only viewer to see live output');
    rv.send(input('x'));
    await rv.current().reading;
    expect((rv.current().error as ClientError).code).toBe(Status.PERMISSION_DENIED);
    await expect(roClients.hub.sendInput({ machineId, sessionId, input: { data: Buffer.from('x'), text: '', enter: false } })).rejects.toMatchObject({ code: Status.PERMISSION_DENIED });
    expect((await roClients.hub.getSessionScreen({ machineId, sessionId })).screen?.screen?.text).toContain('got "b"');
    expect(v.text()).not.toContain('got "x"');

    // Another namespace: the machine (and so the session) does not exist.
    const other = await c.tokens.createToken({ namespace: 'other', label: 'other', scope: TokenScope.TOKEN_SCOPE_FULL });
    const oc = h.clients(other.token);
    const ov = hubViewer(t, () => oc, machineId, sessionId, AttachMode.ATTACH_MODE_READ_ONLY);
    await ov.current().reading;
    expect((ov.current().error as ClientError).code).toBe(Status.NOT_FOUND);
    await expect(oc.hub.getSessionScreen({ machineId, sessionId })).rejects.toMatchObject({ code: Status.NOT_FOUND });
    // An unknown session on our machine: the runner's NOT_FOUND passes through.
    const uv = hubViewer(t, () => c, machineId, 'no-such-session');
    await uv.current().reading;
    expect((uv.current().error as ClientError).code).toBe(Status.NOT_FOUND);
    // The first viewer is still live.
    v.send(input('c'));
    await waitFor(() => v.text().includes('got "c"'), 10_000, 'the first viewer still live');
  });

  it("the hub's HTTP/2 receive windows are wider than Node's 64 KiB (set through grpc-js's internals: an upgrade must keep them)", async () => {
    const hubHome = createTestHome();
    t.homes.push(hubHome);
    const h = await startHubProcess(hubHome);
    t.hubs.push(h);
    const session = connect(h.grpcUrl);
    t.closers.push(() => session.destroy());
    session.on('error', () => undefined);
    const call = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' });
    call.end(Buffer.from([0, 0, 0, 0, 0]));
    call.resume();
    await once(call, 'close');
    // The windows come with the first call: the SETTINGS and the WINDOW_UPDATE are in by its end or just after.
    await waitFor(() => session.remoteSettings.initialWindowSize === HUB_STREAM_WINDOW_BYTES, 10_000, 'the stream window');
    expect(session.state.remoteWindowSize).toBeGreaterThan(HUB_CONNECTION_WINDOW_BYTES - 64 * 1024);
  });

  it('runner kill -9 then start: the viewer stays attached and gets what it missed, no gap and no duplicate', async () => {
    const { th, c, machineId, sessionId } = await hubSession(t);
    const v = hubViewer(t, () => c, machineId, sessionId);
    v.send(input('a'));
    await waitFor(() => v.text().includes('got "a"'), 10_000, 'the echo');
    const pid = th.state()!.pid;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !isAlive(pid), 10_000, 'the runner to die');
    await waitMachine(c, machineId, (m) => !m.online, 10_000);
    // Output while no runner runs: it must reach the viewer once the runner is back.
    expect((await th.cli(['send', sessionId, 'b'])).code).toBe(0);
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    await waitFor(() => v.text().includes('pasted "b"'), 20_000, 'the catch-up through the new runner');
    v.send(input('c'));
    await waitFor(() => v.text().includes('got "c"'), 10_000, 'live again');
    expect(v.streams).toHaveLength(1);
    expect(v.current().done).toBe(false);
    const ranges = v.ranges();
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBe(ranges[i - 1]![1]);
    expect(v.text().match(/got "a"/g)).toHaveLength(1);
  });
});
