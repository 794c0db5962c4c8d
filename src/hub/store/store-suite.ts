/**
 * The contract of the hub's store ports (src/hub/domain/ports.ts), as one vitest suite that
 * every adapter runs: `describeHubStore('sqlite', openSqlite)` today, a PostgreSQL adapter later.
 * It checks only what the domain relies on, never how an adapter stores it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HubStore } from '../domain/ports.js';
import type { HubSession, MachineRecord, TokenRecord, WebSessionRecord } from '../domain/types.js';

/** A fresh, empty store; `reopen` closes it and opens the same data again. */
export interface StoreHarness {
  store: HubStore;
  reopen(): HubStore;
  /** Closes the store and removes its data. */
  dispose(): void;
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
export function describeHubStore(name: string, open: () => StoreHarness): void {
  describe(`hub store contract: ${name}`, () => {
    let h: StoreHarness;
    let store: HubStore;
    beforeEach(() => {
      h = open();
      store = h.store;
      store.ensureNamespace('default');
    });
    afterEach(() => h.dispose());

    describe('namespaces and tokens', () => {
      it('ensureNamespace is idempotent, and a token needs its namespace', () => {
        store.ensureNamespace('default');
        expect(() => store.insertToken(token('tok_x', { namespace: 'nowhere' }), 'hx')).toThrow();
        store.ensureNamespace('nowhere');
        store.insertToken(token('tok_x', { namespace: 'nowhere' }), 'hx');
        expect(store.getToken('tok_x')?.namespace).toBe('nowhere');
      });

      it('finds a token by the hash of its secret and by id, with every field', () => {
        const rec = token('tok_a', { owner: true, label: 'the owner' });
        store.insertToken(rec, 'hash-a');
        expect(store.findTokenByHash('hash-a')).toEqual(rec);
        expect(store.getToken('tok_a')).toEqual(rec);
        const reader = token('tok_r', { scope: 'read-only' });
        store.insertToken(reader, 'hash-r');
        expect(store.findTokenByHash('hash-r')).toEqual(reader);
        expect(store.listTokens().map((t) => [t.id, t.scope])).toEqual([['tok_a', 'full'], ['tok_r', 'read-only']]);
        expect(store.findTokenByHash('hash-b')).toBeUndefined();
        expect(store.getToken('tok_b')).toBeUndefined();
        // A hash names one token only.
        expect(() => store.insertToken(token('tok_b'), 'hash-a')).toThrow();
      });

      it('revokes once; a revoked token is still found (with revokedAt) but no longer listed or counted', () => {
        store.insertToken(token('tok_o', { owner: true }), 'ho');
        store.insertToken(token('tok_b', { createdAt: at(2) }), 'hb');
        store.insertToken(token('tok_a', { createdAt: at(2) }), 'ha');
        store.insertToken(token('tok_c', { createdAt: at(1) }), 'hc');
        expect(store.listTokens().map((t) => t.id)).toEqual(['tok_o', 'tok_c', 'tok_a', 'tok_b']);
        expect(store.countOwnerTokens()).toBe(1);

        expect(store.revokeToken('tok_o', at(10))).toBe(true);
        expect(store.revokeToken('tok_o', at(20))).toBe(false);
        expect(store.revokeToken('tok_unknown', at(20))).toBe(false);
        expect(store.findTokenByHash('ho')?.revokedAt).toEqual(at(10));
        expect(store.getToken('tok_o')?.revokedAt).toEqual(at(10));
        expect(store.listTokens().map((t) => t.id)).toEqual(['tok_c', 'tok_a', 'tok_b']);
        expect(store.countOwnerTokens()).toBe(0);
      });
    });

    describe('machines', () => {
      it('inserts and reads back every field, and keeps namespaces apart', () => {
        const m = machine('m1');
        store.insertMachine(m);
        expect(store.getMachine('m1')).toEqual(m);
        expect(store.getMachine('m2')).toBeUndefined();
        const bare = machine('m3', { runnerState: { ...m.runnerState, startedAt: undefined }, lastAlive: undefined, onlineSince: undefined });
        store.insertMachine(bare);
        expect(store.getMachine('m3')).toEqual(bare);
        store.ensureNamespace('team');
        store.insertMachine(machine('m2', { namespace: 'team' }));
        expect(store.listMachines('team').map((x) => x.id)).toEqual(['m2']);
        expect(store.listMachines('nowhere')).toEqual([]);
        expect(() => store.insertMachine(machine('m1'))).toThrow();
      });

      it('lists online machines first, then by id', () => {
        store.insertMachine(machine('b', { online: false }));
        store.insertMachine(machine('c'));
        store.insertMachine(machine('a', { online: false }));
        store.insertMachine(machine('d'));
        expect(store.listMachines('default').map((m) => m.id)).toEqual(['c', 'd', 'a', 'b']);
      });

      it('saveMachine saves every field', () => {
        store.insertMachine(machine('m1'));
        const next = machine('m1', {
          metadata: { ...machine('m1').metadata, displayName: 'renamed', agents: [] },
          metadataVersion: 5,
          runnerState: { status: 'shutting-down', pid: 7, startedAt: at(5), shutdownReason: 'upgrade', lastSpawnError: 'boom', httpPort: 0 },
          runnerStateVersion: 9,
          online: false,
          lastAlive: at(100),
          onlineSince: at(200),
        });
        store.saveMachine(next);
        expect(store.getMachine('m1')).toEqual(next);
      });

      it('saveLastAlive changes only last-alive times, in one batch', () => {
        store.insertMachine(machine('m1'));
        store.insertMachine(machine('m2'));
        store.saveLastAlive([]);
        store.saveLastAlive([
          { id: 'm1', lastAlive: at(1_000) },
          { id: 'm2', lastAlive: at(2_000) },
          { id: 'unknown', lastAlive: at(3_000) },
        ]);
        expect(store.getMachine('m1')).toEqual(machine('m1', { lastAlive: at(1_000) }));
        expect(store.getMachine('m2')?.lastAlive).toEqual(at(2_000));
      });

      it('markAllOffline marks online machines offline since then, a running runner lost, and counts them', () => {
        store.insertMachine(machine('m1'));
        const stopping = { status: 'shutting-down' as const, pid: 7, shutdownReason: 'cli', lastSpawnError: '', httpPort: 0 };
        store.insertMachine(machine('m2', { runnerState: stopping }));
        store.insertMachine(machine('m3', { online: false, onlineSince: at(-5) }));
        expect(store.markAllOffline(at(50))).toBe(2);
        expect(store.getMachine('m1')).toMatchObject({ online: false, onlineSince: at(50), lastAlive: T0 });
        expect(store.getMachine('m1')).toMatchObject({ runnerState: { status: 'lost', lostAt: at(50), pid: 4242, startedAt: T0 }, runnerStateVersion: 2 });
        expect(store.getMachine('m2')).toMatchObject({ runnerState: stopping, runnerStateVersion: 1 });
        expect(store.getMachine('m3')).toMatchObject({ online: false, onlineSince: at(-5), runnerState: { status: 'running' } });
        expect(store.markAllOffline(at(60))).toBe(0);
      });
    });

    describe('sessions', () => {
      beforeEach(() => {
        store.ensureNamespace('team');
        store.insertMachine(machine('m1'));
        store.insertMachine(machine('m2'));
        store.insertMachine(machine('t1', { namespace: 'team' }));
      });

      it('upserts by (machine id, session id) and reads back every field', () => {
        const full = session('m1', 's1', {
          state: 'ended',
          endedAt: at(9),
          exitCode: 3,
          exitSignal: 'SIGTERM',
          worktree: { path: '/w/t', branch: 'b', repository: '/w' },
          requestId: 'req-1',
          startedBy: 'terminal',
        });
        store.upsertSession(full);
        expect(store.getSession('m1', 's1')).toEqual(full);
        expect(store.getSession('m2', 's1')).toBeUndefined();
        // Same id on another machine is another session.
        store.upsertSession(session('m2', 's1'));
        expect(store.getSession('m2', 's1')).toEqual(session('m2', 's1'));
        // Replaces every field, optional ones included.
        const back = session('m1', 's1', { pid: 200, state: 'running' });
        store.upsertSession(back);
        expect(store.getSession('m1', 's1')).toEqual(back);
      });

      it('lists a namespace newest first, without ended ones unless asked, optionally for one machine', () => {
        store.upsertSession(session('m1', 'old', { startedAt: at(1) }));
        store.upsertSession(session('m2', 'new', { startedAt: at(3) }));
        store.upsertSession(session('m1', 'done', { startedAt: at(2), state: 'ended', endedAt: at(4) }));
        store.upsertSession(session('m1', 'starting', { startedAt: at(0), state: 'starting' }));
        store.upsertSession(session('t1', 'theirs', { namespace: 'team', startedAt: at(5) }));
        const ids = (o: { machineId?: string; includeEnded?: boolean }) => store.listSessions('default', o).map((s) => s.id);
        expect(ids({})).toEqual(['new', 'old', 'starting']);
        expect(ids({ includeEnded: true })).toEqual(['new', 'done', 'old', 'starting']);
        expect(ids({ machineId: 'm1' })).toEqual(['old', 'starting']);
        expect(ids({ machineId: 'm1', includeEnded: true })).toEqual(['done', 'old', 'starting']);
        // Another namespace's machine lists nothing here.
        expect(ids({ machineId: 't1', includeEnded: true })).toEqual([]);
        expect(store.listSessions('team', {}).map((s) => s.id)).toEqual(['theirs']);
      });

      it('liveSessionsOf returns the starting and running sessions of one machine', () => {
        store.upsertSession(session('m1', 'a'));
        store.upsertSession(session('m1', 'b', { state: 'starting' }));
        store.upsertSession(session('m1', 'c', { state: 'ended', endedAt: at(1) }));
        store.upsertSession(session('m2', 'd'));
        expect(store.liveSessionsOf('m1').map((s) => s.id).sort()).toEqual(['a', 'b']);
        expect(store.liveSessionsOf('nowhere')).toEqual([]);
      });
    });

    describe('web sign-in sessions', () => {
      it('inserts (replacing the same key), lists, touches and deletes', () => {
        expect(store.listWebSessions()).toEqual([]);
        store.insertWebSession(webSession('k1'));
        store.insertWebSession(webSession('k2', { kind: 'telegram', subject: '12345' }));
        store.insertWebSession(webSession('k1', { csrfToken: 'other' }));
        const byKey = () => Object.fromEntries(store.listWebSessions().map((w) => [w.key, w]));
        expect(byKey()).toEqual({ k1: webSession('k1', { csrfToken: 'other' }), k2: webSession('k2', { kind: 'telegram', subject: '12345' }) });
        store.touchWebSession('k2', 9_000);
        store.touchWebSession('unknown', 9_000);
        expect(byKey().k2!.lastSeenAt).toBe(9_000);
        store.deleteWebSessions([]);
        store.deleteWebSessions(['k1', 'k2', 'unknown']);
        expect(store.listWebSessions()).toEqual([]);
      });
    });

    describe('notification settings', () => {
      it('mutes and unmutes a session of one namespace only, kept across a reopen', () => {
        expect(store.isSessionMuted('a', 'm1', 's1')).toBe(false);
        store.setSessionMuted('a', 'm1', 's1', true, T0);
        store.setSessionMuted('a', 'm1', 's1', true, at(5));
        expect(store.isSessionMuted('a', 'm1', 's1')).toBe(true);
        expect(store.isSessionMuted('b', 'm1', 's1')).toBe(false);
        store = h.reopen();
        expect(store.listMutedSessions('a')).toEqual([{ machineId: 'm1', sessionId: 's1' }]);
        expect(store.listMutedSessions('b')).toEqual([]);
        store.setSessionMuted('a', 'm1', 's1', false, at(10));
        expect(store.isSessionMuted('a', 'm1', 's1')).toBe(false);
      });

      it('keeps one VAPID key pair (the first saved) and push subscriptions per namespace', () => {
        expect(store.getVapidKeys()).toBeUndefined();
        expect(store.saveVapidKeys({ publicKey: 'pub1', privateKey: 'priv1' })).toEqual({ publicKey: 'pub1', privateKey: 'priv1' });
        expect(store.saveVapidKeys({ publicKey: 'pub2', privateKey: 'priv2' })).toEqual({ publicKey: 'pub1', privateKey: 'priv1' });
        const sub = { endpoint: 'https://push.example/1', p256dh: 'k', auth: 'a', namespace: 'a', tokenId: 't', canDecide: true, createdAt: T0 };
        store.savePushSubscription(sub);
        store.savePushSubscription({ ...sub, endpoint: 'https://push.example/2', namespace: 'b', canDecide: false });
        store.savePushSubscription({ ...sub, auth: 'a2' });
        store = h.reopen();
        expect(store.getVapidKeys()).toEqual({ publicKey: 'pub1', privateKey: 'priv1' });
        expect(store.listPushSubscriptions('a')).toEqual([{ ...sub, auth: 'a2' }]);
        expect(store.listPushSubscriptions('b')).toEqual([{ ...sub, endpoint: 'https://push.example/2', namespace: 'b', canDecide: false }]);
        expect(store.deletePushSubscription('https://push.example/2', 'a')).toBe(false);
        expect(store.deletePushSubscription('https://push.example/2')).toBe(true);
        expect(store.listPushSubscriptions('b')).toEqual([]);
      });

      it('keeps per-namespace preferences, off by default', () => {
        expect(store.getNotifySettings('a')).toEqual({ notifyOnExit: false });
        store.setNotifySettings('a', { notifyOnExit: true });
        store = h.reopen();
        expect(store.getNotifySettings('a')).toEqual({ notifyOnExit: true });
        expect(store.getNotifySettings('b')).toEqual({ notifyOnExit: false });
      });
    });

    describe('approval decisions', () => {
      it('appends and lists a session\'s decisions oldest first, every field kept, sessions apart', () => {
        const request = { id: 'r1', tool: 'Bash', command: 'ls', file: '', description: 'list', choices: ['allow', 'deny'] as ('allow' | 'deny')[], requestedAt: new Date(1_000), atTerminal: false };
        const rec = (id: string, decision: 'allow' | 'deny', at: number) => ({
          machineId: 'm1',
          sessionId: 's1',
          request: { ...request, id },
          decision,
          message: decision === 'deny' ? 'no' : '',
          tokenId: 't1',
          decidedBy: 'phone',
          origin: 'page' as const,
          decidedAt: new Date(at),
        });
        expect(store.listDecisions('m1', 's1')).toEqual([]);
        store.insertDecision({ ...rec('r1', 'allow', 2_000), namespace: 'default' });
        store.insertDecision({ ...rec('r2', 'deny', 3_000), namespace: 'default' });
        store.insertDecision({ ...rec('r3', 'allow', 4_000), sessionId: 's2', namespace: 'default' });
        expect(store.listDecisions('m1', 's1')).toEqual([rec('r1', 'allow', 2_000), rec('r2', 'deny', 3_000)]);
        expect(store.listDecisions('m1', 's2')).toHaveLength(1);
      });
    });

    describe('transactions', () => {
      it('commits when the work returns, and returns its value', () => {
        const v = store.transaction((tx) => {
          tx.ensureNamespace('team');
          tx.insertMachine(machine('m1', { namespace: 'team' }));
          return 42;
        });
        expect(v).toBe(42);
        expect(store.getMachine('m1')?.namespace).toBe('team');
      });

      it('rolls back every aggregate when the work throws, and rethrows', () => {
        store.insertMachine(machine('m1'));
        const boom = new Error('boom');
        expect(() =>
          store.transaction((tx) => {
            tx.ensureNamespace('team');
            tx.insertToken(token('tok_t', { namespace: 'team' }), 'ht');
            tx.saveMachine(machine('m1', { metadataVersion: 2 }));
            tx.upsertSession(session('m1', 's1'));
            // Reads inside the work see its own writes.
            expect(tx.getMachine('m1')?.metadataVersion).toBe(2);
            throw boom;
          }),
        ).toThrow(boom);
        expect(store.getToken('tok_t')).toBeUndefined();
        expect(store.getMachine('m1')?.metadataVersion).toBe(1);
        expect(store.getSession('m1', 's1')).toBeUndefined();
        expect(() => store.insertToken(token('tok_t', { namespace: 'team' }), 'ht')).toThrow();
      });
    });

    it('keeps everything across a reopen', () => {
      store.insertToken(token('tok_a'), 'ha');
      store.insertToken(token('tok_r', { scope: 'read-only' }), 'hr');
      store.insertMachine(machine('m1'));
      store.upsertSession(session('m1', 's1'));
      store.insertWebSession(webSession('k1'));
      store = h.reopen();
      expect(store.findTokenByHash('ha')).toEqual(token('tok_a'));
      expect(store.getToken('tok_r')).toEqual(token('tok_r', { scope: 'read-only' }));
      expect(store.getMachine('m1')).toEqual(machine('m1'));
      expect(store.getSession('m1', 's1')).toEqual(session('m1', 's1'));
      expect(store.listWebSessions()).toEqual([webSession('k1')]);
    });
  });
}
