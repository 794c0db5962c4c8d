// A cloned machine does not flap: two real runners share one machine id (a copied HAPI_HOME
// machine-id file) from different HAPI_HOME paths. The first stays connected, the second is
// refused with a message naming `hapi runner reset-machine-id` and backs off; after that
// command and a restart, both machines are online side by side.
import { afterEach, describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAllHomes, createTestHome, FIXTURE_AGENT, waitFor, type TestHome } from './harness.js';
import { machineIdOf } from './runner-calls.js';
import { startHubProcess, waitMachine, type HubProcess } from './hub-helpers.js';

const homes: TestHome[] = [];
const hubs: HubProcess[] = [];

afterEach(async () => {
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  await cleanupAllHomes();
});

describe('cloned machine', () => {
  it('refuses a second install with the same machine id while the first is online; no stream is replaced', async () => {
    const hubTh = createTestHome();
    homes.push(hubTh);
    const h = await startHubProcess(hubTh);
    hubs.push(h);
    const c = h.clients();
    const runnerHome = () => {
      const th = createTestHome({ HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken, HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}` });
      homes.push(th);
      return th;
    };

    const a = runnerHome();
    expect((await a.cli(['runner', 'start'])).code).toBe(0);
    const machineId = await machineIdOf(a.home);
    const aPid = a.state()!.pid;
    await waitMachine(c, machineId, (m) => m.online && m.runnerState?.pid === aPid);

    // The copy: another HAPI_HOME holding the same machine-id file.
    const b = runnerHome();
    copyFileSync(join(a.home, 'machine-id'), join(b.home, 'machine-id'));
    expect((await b.cli(['runner', 'start'])).code).toBe(0);
    const refusal = await waitFor(async () => {
      const s = await b.cli(['runner', 'status', '--json']);
      const link = JSON.parse(s.stdout).hubLink as { state: string; lastError?: string };
      return link.state !== 'connected' && link.lastError?.includes('reset-machine-id') ? link.lastError : undefined;
    }, 20_000, 'the second install to be refused');
    expect(refusal).toContain(`machine id ${machineId} is already online from another install`);

    // Watch for a while: the first keeps its stream, nothing is replaced, nothing flips.
    const until = Date.now() + 3_000;
    while (Date.now() < until) {
      const m = (await c.hub.listMachines({})).machines.find((x) => x.id === machineId);
      expect(m).toMatchObject({ online: true, runnerState: { pid: aPid } });
      await new Promise((r) => setTimeout(r, 200));
    }
    const logs = () => h.stdout() + h.stderr();
    expect(logs().match(/a newer stream replaced the previous one/g) ?? []).toHaveLength(0);
    expect(logs()).toMatch(/refused another install using the machine id of an online one/);
    expect((await c.hub.listMachines({})).machines).toHaveLength(1);

    // The fix the message names: a new id for the copy, then a restart.
    const reset = await b.cli(['runner', 'reset-machine-id']);
    expect(reset.code, reset.stderr).toBe(0);
    const newId = readFileSync(join(b.home, 'machine-id'), 'utf8').trim();
    expect(newId).not.toBe(machineId);
    expect(reset.stdout).toContain(`machine id: ${newId} (was ${machineId})`);
    expect((await b.cli(['runner', 'stop'])).code).toBe(0);
    expect((await b.cli(['runner', 'start'])).code).toBe(0);
    await waitMachine(c, newId, (m) => m.online, 15_000);
    await waitMachine(c, machineId, (m) => m.online && m.runnerState?.pid === aPid);
  }, 90_000);
});
