/**
 * The contract of the hub's store ports (src/hub/domain/ports.ts), as one vitest suite that
 * every adapter runs: `describeHubStore('sqlite', ...)` and `describeHubStore('postgres', ...)`.
 * It checks only what the domain relies on, never how an adapter stores it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HubStore } from '../domain/ports.js';
import type { HubSession, MachineRecord, TokenRecord, WebSessionRecord } from '../domain/types.js';
import { describeNotifyAndApprovals } from './store-suite-notify.js';

/** A fresh, empty store; `reopen` closes it and opens the same data again. */
export interface StoreHarness {
  store: HubStore;
  reopen(): Promise<HubStore>;
  /** Closes the store and removes its data. */
  dispose(): Promise<void>;
}

const T0 = new Date('2025-01-02T03:04:05.678Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

function token(id: string, o: Partial<TokenRecord> = {}): TokenRecord {
  return { id, namespace: 'default', label: `label ${id}`, owner: false, scope: 'full', createdAt: T0, ...o };
}

function machine(id: string, o: Partial<MachineRecord> = {}): MachineRecord {
  return {
    id,
    namespace: 'default',
    metadata: { hostname: `${id}.local`, platform: 'linux', arch: 'x64', cliVersion: '1.2.3', displayName: id, homeDir: '/home/u', agents: ['claude', 'codex'] },
    metadataVersion: 1,
    runnerState: { status: 'running', pid: 4242, startedAt: T0, shutdownReason: '', lastSpawnError: '', httpPort: 8123 },
    runnerStateVersion: 1,
    online: true,
    lastAlive: T0,
    onlineSince: T0,
    ...o,
  };
}

function session(machineId: string, id: string, o: Partial<HubSession> = {}): HubSession {
  return {
    id,
    machineId,
    namespace: 'default',
    pid: 100,
    startedBy: 'runner',
    directory: '/work',
    agent: 'claude',
    startedAt: T0,
    state: 'running',
    ...o,
  };
}

function webSession(key: string, o: Partial<WebSessionRecord> = {}): WebSessionRecord {
  return { key, csrfToken: `csrf-${key}`, kind: 'token', subject: 'tok_1', createdAt: 1_000, lastSeenAt: 2_000, ...o };
}

/** Runs the store contract against one adapter. */
export function describeHubStore(name: string, open: () => Promise<StoreHarness>): void {
  describe(`hub store contract: ${name}`, () => {
    let h: StoreHarness;
    let store: HubStore;
    beforeEach(async () => {
      h = await open();
      store = h.store;
      await store.ensureNamespace('default');
    });
    afterEach(() => h.dispose());

    describe('namespaces and tokens', () => {
      it('ensureNamespace is idempotent, and a token needs its namespace', async () => {
        await store.ensureNamespace('default');
        await expect(store.insertToken(token('tok_x', { namespace: 'nowhere' }), 'hx')).rejects.toThrow();
        await store.ensureNamespace('nowhere');
        await store.insertToken(token('tok_x', { namespace: 'nowhere' }), 'hx');
        expect((await store.getToken('tok_x'))?.namespace).toBe('nowhere');
      });

      it('finds a token by the hash of its secret and by id, with every field', async () => {
        const rec = token('tok_a', { owner: true, label: 'the owner' });
        await store.insertToken(rec, 'hash-a');
        expect(await store.findTokenByHash('hash-a')).toEqual(rec);
        expect(await store.getToken('tok_a')).toEqual(rec);
        const reader = token('tok_r', { scope: 'read-only' });
        await store.insertToken(reader, 'hash-r');
        expect(await store.findTokenByHash('hash-r')).toEqual(reader);
        expect((await store.listTokens()).map((t) => [t.id, t.scope])).toEqual([['tok_a', 'full'], ['tok_r', 'read-only']]);
        expect(await store.findTokenByHash('hash-b')).toBeUndefined();
        expect(await store.getToken('tok_b')).toBeUndefined();
        // A hash names one token only.
        await expect(store.insertToken(token('tok_b'), 'hash-a')).rejects.toThrow();
      });

      it('revokes once; a revoked token is still found (with revokedAt) but no longer listed or counted', async () => {
        await store.insertToken(token('tok_o', { owner: true }), 'ho');
        await store.insertToken(token('tok_b', { createdAt: at(2) }), 'hb');
        await store.insertToken(token('tok_a', { createdAt: at(2) }), 'ha');
        await store.insertToken(token('tok_c', { createdAt: at(1) }), 'hc');
        expect((await store.listTokens()).map((t) => t.id)).toEqual(['tok_o', 'tok_c', 'tok_a', 'tok_b']);
        expect(await store.countOwnerTokens()).toBe(1);

        expect(await store.revokeToken('tok_o', at(10))).toBe(true);
        expect(await store.revokeToken('tok_o', at(20))).toBe(false);
        expect(await store.revokeToken('tok_unknown', at(20))).toBe(false);
        expect((await store.findTokenByHash('ho'))?.revokedAt).toEqual(at(10));
        expect((await store.getToken('tok_o'))?.revokedAt).toEqual(at(10));
        expect((await store.listTokens()).map((t) => t.id)).toEqual(['tok_c', 'tok_a', 'tok_b']);
        expect(await store.countOwnerTokens()).toBe(0);
      });
    });

    describe('machines', () => {
      it('inserts and reads back every field, and keeps namespaces apart', async () => {
        const m = machine('m1');
        await store.insertMachine(m);
        expect(await store.getMachine('m1')).toEqual(m);
        expect(await store.getMachine('m2')).toBeUndefined();
        const bare = machine('m3', { runnerState: { ...m.runnerState, startedAt: undefined }, lastAlive: undefined, onlineSince: undefined });
        await store.insertMachine(bare);
        expect(await store.getMachine('m3')).toEqual(bare);
        await store.ensureNamespace('team');
        await store.insertMachine(machine('m2', { namespace: 'team' }));
        expect((await store.listMachines('team')).map((x) => x.id)).toEqual(['m2']);
        expect(await store.listMachines('nowhere')).toEqual([]);
        await expect(store.insertMachine(machine('m1'))).rejects.toThrow();
      });

      it('lists online machines first, then by id', async () => {
        await store.insertMachine(machine('b', { online: false }));
        await store.insertMachine(machine('c'));
        await store.insertMachine(machine('a', { online: false }));
        await store.insertMachine(machine('d'));
        expect((await store.listMachines('default')).map((m) => m.id)).toEqual(['c', 'd', 'a', 'b']);
      });

      it('saveMachine saves every field', async () => {
        await store.insertMachine(machine('m1'));
        const next = machine('m1', {
          metadata: { ...machine('m1').metadata, displayName: 'renamed', agents: [] },
          metadataVersion: 5,
          runnerState: { status: 'shutting-down', pid: 7, startedAt: at(5), shutdownReason: 'upgrade', lastSpawnError: 'boom', httpPort: 0 },
          runnerStateVersion: 9,
          online: false,
          lastAlive: at(100),
          onlineSince: at(200),
        });
        await store.saveMachine(next);
        expect(await store.getMachine('m1')).toEqual(next);
      });

      it('saveLastAlive changes only last-alive times, in one batch', async () => {
        await store.insertMachine(machine('m1'));
        await store.insertMachine(machine('m2'));
        await store.saveLastAlive([]);
        await store.saveLastAlive([
          { id: 'm1', lastAlive: at(1_000) },
          { id: 'm2', lastAlive: at(2_000) },
          { id: 'unknown', lastAlive: at(3_000) },
        ]);
        expect(await store.getMachine('m1')).toEqual(machine('m1', { lastAlive: at(1_000) }));
        expect((await store.getMachine('m2'))?.lastAlive).toEqual(at(2_000));
      });

      it('markAllOffline marks online machines offline since then, a running runner lost, and counts them', async () => {
        await store.insertMachine(machine('m1'));
        const stopping = { status: 'shutting-down' as const, pid: 7, shutdownReason: 'cli', lastSpawnError: '', httpPort: 0 };
        await store.insertMachine(machine('m2', { runnerState: stopping }));
        await store.insertMachine(machine('m3', { online: false, onlineSince: at(-5) }));
        expect(await store.markAllOffline(at(50))).toBe(2);
        expect(await store.getMachine('m1')).toMatchObject({ online: false, onlineSince: at(50), lastAlive: T0 });
        expect(await store.getMachine('m1')).toMatchObject({ runnerState: { status: 'lost', lostAt: at(50), pid: 4242, startedAt: T0 }, runnerStateVersion: 2 });
        expect(await store.getMachine('m2')).toMatchObject({ runnerState: stopping, runnerStateVersion: 1 });
        expect(await store.getMachine('m3')).toMatchObject({ online: false, onlineSince: at(-5), runnerState: { status: 'running' } });
        expect(await store.markAllOffline(at(60))).toBe(0);
      });
    });

    describe('sessions', () => {
      beforeEach(async () => {
        await store.ensureNamespace('team');
        await store.insertMachine(machine('m1'));
        await store.insertMachine(machine('m2'));
        await store.insertMachine(machine('t1', { namespace: 'team' }));
      });

      it('upserts by (machine id, session id) and reads back every field', async () => {
        const full = session('m1', 's1', {
          state: 'ended',
          endedAt: at(9),
          exitCode: 3,
          exitSignal: 'SIGTERM',
          worktree: { path: '/w/t', branch: 'b', repository: '/w' },
          requestId: 'req-1',
          startedBy: 'terminal',
        });
        await store.upsertSession(full);
        expect(await store.getSession('m1', 's1')).toEqual(full);
        expect(await store.getSession('m2', 's1')).toBeUndefined();
        // Same id on another machine is another session.
        await store.upsertSession(session('m2', 's1'));
        expect(await store.getSession('m2', 's1')).toEqual(session('m2', 's1'));
        // Replaces every field, optional ones included.
        const back = session('m1', 's1', { pid: 200, state: 'running' });
        await store.upsertSession(back);
        expect(await store.getSession('m1', 's1')).toEqual(back);
      });

      it('lists a namespace newest first, without ended ones unless asked, optionally for one machine', async () => {
        await store.upsertSession(session('m1', 'old', { startedAt: at(1) }));
        await store.upsertSession(session('m2', 'new', { startedAt: at(3) }));
        await store.upsertSession(session('m1', 'done', { startedAt: at(2), state: 'ended', endedAt: at(4) }));
        await store.upsertSession(session('m1', 'starting', { startedAt: at(0), state: 'starting' }));
        await store.upsertSession(session('t1', 'theirs', { namespace: 'team', startedAt: at(5) }));
        const ids = async (o: { machineId?: string; includeEnded?: boolean }) => (await store.listSessions('default', o)).map((s) => s.id);
        expect(await ids({})).toEqual(['new', 'old', 'starting']);
        expect(await ids({ includeEnded: true })).toEqual(['new', 'done', 'old', 'starting']);
        expect(await ids({ machineId: 'm1' })).toEqual(['old', 'starting']);
        expect(await ids({ machineId: 'm1', includeEnded: true })).toEqual(['done', 'old', 'starting']);
        // Another namespace's machine lists nothing here.
        expect(await ids({ machineId: 't1', includeEnded: true })).toEqual([]);
        expect((await store.listSessions('team', {})).map((s) => s.id)).toEqual(['theirs']);
      });

      it('liveSessionsOf returns the starting and running sessions of one machine', async () => {
        await store.upsertSession(session('m1', 'a'));
        await store.upsertSession(session('m1', 'b', { state: 'starting' }));
        await store.upsertSession(session('m1', 'c', { state: 'ended', endedAt: at(1) }));
        await store.upsertSession(session('m2', 'd'));
        expect((await store.liveSessionsOf('m1')).map((s) => s.id).sort()).toEqual(['a', 'b']);
        expect(await store.liveSessionsOf('nowhere')).toEqual([]);
      });

      it('keeps a shared activity per session, read with the row, left alone by upserts, cleared with undefined', async () => {
        const activity = {
          state: 'needs_approval' as const,
          guess: false,
          message: 'asks',
          source: 'claude-hooks',
          since: at(2),
          requests: [{ id: 'r1', tool: 'Bash', command: 'ls', file: '', description: 'Run ls', choices: ['allow' as const, 'deny' as const], requestedAt: at(1), atTerminal: false }],
        };
        await store.upsertSession(session('m1', 's1'));
        await store.setSessionActivity('m1', 's1', activity);
        expect((await store.getSession('m1', 's1'))?.sharedActivity).toEqual(activity);
        expect((await store.listSessions('default', {}))[0]?.sharedActivity).toEqual(activity);
        await store.upsertSession(session('m1', 's1', { pid: 7 }));
        expect(await store.getSession('m1', 's1')).toMatchObject({ pid: 7, sharedActivity: activity });
        await store.setSessionActivity('m1', 's1', undefined);
        expect((await store.getSession('m1', 's1'))?.sharedActivity).toBeUndefined();
        // A session that is not there: nothing written, no error.
        await store.setSessionActivity('m1', 'nowhere', activity);
        expect(await store.getSession('m1', 'nowhere')).toBeUndefined();
      });
    });

    describe('web sign-in sessions', () => {
      it('inserts (replacing the same key), lists, touches and deletes', async () => {
        expect(await store.listWebSessions()).toEqual([]);
        await store.insertWebSession(webSession('k1'));
        await store.insertWebSession(webSession('k2', { kind: 'telegram', subject: '12345' }));
        await store.insertWebSession(webSession('k1', { csrfToken: 'other' }));
        const byKey = async () => Object.fromEntries((await store.listWebSessions()).map((w) => [w.key, w]));
        expect(await byKey()).toEqual({ k1: webSession('k1', { csrfToken: 'other' }), k2: webSession('k2', { kind: 'telegram', subject: '12345' }) });
        await store.touchWebSession('k2', 9_000);
        await store.touchWebSession('unknown', 9_000);
        expect((await byKey()).k2!.lastSeenAt).toBe(9_000);
        await store.deleteWebSessions([]);
        await store.deleteWebSessions(['k1', 'k2', 'unknown']);
        expect(await store.listWebSessions()).toEqual([]);
      });
    });

    describeNotifyAndApprovals({ store: () => store, reopen: async () => (store = await h.reopen()) });

    describe('one-time codes', () => {
      it('are taken once, only before they expire, by kind; expired ones are purged', async () => {
        const t = Date.now();
        await store.insertOneTimeCode({ kind: 'sign-in-link', hash: 'h1', payload: 'tok_a', expiresAt: t + 60_000 });
        await store.insertOneTimeCode({ kind: 'attach-ticket', hash: 'h2', payload: '{"k":1}', expiresAt: t + 60_000 });
        await store.insertOneTimeCode({ kind: 'sign-in-link', hash: 'h3', payload: 'tok_b', expiresAt: t + 1_000 });
        expect(await store.countOneTimeCodes('sign-in-link', t)).toBe(2);
        expect(await store.countOneTimeCodes('sign-in-link', t + 1_000)).toBe(1);
        // The kind must match: a ticket is no sign-in link.
        expect(await store.takeOneTimeCode('sign-in-link', 'h2', t)).toBeUndefined();
        // Taken at most once, even by callers racing for it.
        const raced = await Promise.all(Array.from({ length: 5 }, () => store.takeOneTimeCode('sign-in-link', 'h1', t)));
        expect(raced.filter((x) => x !== undefined)).toEqual(['tok_a']);
        expect(await store.takeOneTimeCode('attach-ticket', 'h2', t)).toBe('{"k":1}');
        // Expired: never given, and gone.
        expect(await store.takeOneTimeCode('sign-in-link', 'h3', t + 1_000)).toBeUndefined();
        expect(await store.countOneTimeCodes('sign-in-link', t)).toBe(0);
        await expect(store.insertOneTimeCode({ kind: 'nope' as never, hash: 'h4', payload: '', expiresAt: t })).rejects.toThrow();
      });
    });

    describe('transactions', () => {
      it('commits when the work returns, and returns its value', async () => {
        const v = await store.transaction(async (tx) => {
          await tx.ensureNamespace('team');
          await tx.insertMachine(machine('m1', { namespace: 'team' }));
          return 42;
        });
        expect(v).toBe(42);
        expect((await store.getMachine('m1'))?.namespace).toBe('team');
      });

      it('rolls back every aggregate when the work throws, and rethrows', async () => {
        await store.insertMachine(machine('m1'));
        const boom = new Error('boom');
        await expect(
          store.transaction(async (tx) => {
            await tx.ensureNamespace('team');
            await tx.insertToken(token('tok_t', { namespace: 'team' }), 'ht');
            await tx.saveMachine(machine('m1', { metadataVersion: 2 }));
            await tx.upsertSession(session('m1', 's1'));
            // Reads inside the work see its own writes.
            expect((await tx.getMachine('m1'))?.metadataVersion).toBe(2);
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await store.getToken('tok_t')).toBeUndefined();
        expect((await store.getMachine('m1'))?.metadataVersion).toBe(1);
        expect(await store.getSession('m1', 's1')).toBeUndefined();
        await expect(store.insertToken(token('tok_t', { namespace: 'team' }), 'ht')).rejects.toThrow();
      });
    });

    it('keeps everything across a reopen', async () => {
      await store.insertToken(token('tok_a'), 'ha');
      await store.insertToken(token('tok_r', { scope: 'read-only' }), 'hr');
      await store.insertMachine(machine('m1'));
      await store.upsertSession(session('m1', 's1'));
      await store.insertWebSession(webSession('k1'));
      store = await h.reopen();
      expect(await store.findTokenByHash('ha')).toEqual(token('tok_a'));
      expect(await store.getToken('tok_r')).toEqual(token('tok_r', { scope: 'read-only' }));
      expect(await store.getMachine('m1')).toEqual(machine('m1'));
      expect(await store.getSession('m1', 's1')).toEqual(session('m1', 's1'));
      expect(await store.listWebSessions()).toEqual([webSession('k1')]);
    });
  });
}
