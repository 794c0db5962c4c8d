/**
 * The store contract (store-suite.ts), continued: the notifier's tables (NotifyStore) and
 * approval decisions, run by describeHubStore against every adapter.
 */
import { describe, expect, it } from 'vitest';
import type { HubStore } from '../domain/ports.js';

const T0 = new Date('2025-01-02T03:04:05.678Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

/** The store of the running test, and its reopen (the suite's harness). */
export interface SuiteStore {
  store(): HubStore;
  reopen(): Promise<HubStore>;
}

export function describeNotifyAndApprovals(t: SuiteStore): void {
  describe('notification settings', () => {
    it('mutes and unmutes a session of one namespace only, kept across a reopen', async () => {
      expect(await t.store().isSessionMuted('a', 'm1', 's1')).toBe(false);
      await t.store().setSessionMuted('a', 'm1', 's1', true, T0);
      await t.store().setSessionMuted('a', 'm1', 's1', true, at(5));
      expect(await t.store().isSessionMuted('a', 'm1', 's1')).toBe(true);
      expect(await t.store().isSessionMuted('b', 'm1', 's1')).toBe(false);
      await t.reopen();
      expect(await t.store().listMutedSessions('a')).toEqual([{ machineId: 'm1', sessionId: 's1' }]);
      expect(await t.store().listMutedSessions('b')).toEqual([]);
      await t.store().setSessionMuted('a', 'm1', 's1', false, at(10));
      expect(await t.store().isSessionMuted('a', 'm1', 's1')).toBe(false);
    });

    it('keeps one VAPID key pair (the first saved) and push subscriptions per namespace', async () => {
      expect(await t.store().getVapidKeys()).toBeUndefined();
      expect(await t.store().saveVapidKeys({ publicKey: 'pub1', privateKey: 'priv1' })).toEqual({ publicKey: 'pub1', privateKey: 'priv1' });
      expect(await t.store().saveVapidKeys({ publicKey: 'pub2', privateKey: 'priv2' })).toEqual({ publicKey: 'pub1', privateKey: 'priv1' });
      const sub = { endpoint: 'https://push.example/1', p256dh: 'k', auth: 'a', namespace: 'a', tokenId: 't', canDecide: true, createdAt: T0 };
      await t.store().savePushSubscription(sub);
      await t.store().savePushSubscription({ ...sub, endpoint: 'https://push.example/2', namespace: 'b', canDecide: false });
      await t.store().savePushSubscription({ ...sub, auth: 'a2' });
      await t.reopen();
      expect(await t.store().getVapidKeys()).toEqual({ publicKey: 'pub1', privateKey: 'priv1' });
      expect(await t.store().listPushSubscriptions('a')).toEqual([{ ...sub, auth: 'a2' }]);
      expect(await t.store().listPushSubscriptions('b')).toEqual([{ ...sub, endpoint: 'https://push.example/2', namespace: 'b', canDecide: false }]);
      expect(await t.store().deletePushSubscription('https://push.example/2', 'a')).toBe(false);
      expect(await t.store().deletePushSubscription('https://push.example/2')).toBe(true);
      expect(await t.store().listPushSubscriptions('b')).toEqual([]);
    });

    it('keeps per-namespace preferences, off by default', async () => {
      expect(await t.store().getNotifySettings('a')).toEqual({ notifyOnExit: false });
      await t.store().setNotifySettings('a', { notifyOnExit: true });
      await t.reopen();
      expect(await t.store().getNotifySettings('a')).toEqual({ notifyOnExit: true });
      expect(await t.store().getNotifySettings('b')).toEqual({ notifyOnExit: false });
    });
  });

  describe('approval decisions', () => {
    it('appends and lists a session\'s decisions oldest first, every field kept, sessions apart', async () => {
      const request = { id: 'r1', tool: 'Bash', command: 'ls', file: '', description: 'list', choices: ['allow', 'deny'] as ('allow' | 'deny')[], requestedAt: new Date(1_000), atTerminal: false };
      const rec = (id: string, decision: 'allow' | 'deny', at: number, origin: 'page' | 'telegram' | 'push' = 'page') => ({
        machineId: 'm1',
        sessionId: 's1',
        request: { ...request, id },
        decision,
        message: decision === 'deny' ? 'no' : '',
        tokenId: 't1',
        decidedBy: 'phone',
        origin,
        decidedAt: new Date(at),
      });
      expect(await t.store().listDecisions('m1', 's1')).toEqual([]);
      await t.store().insertDecision({ ...rec('r1', 'allow', 2_000), namespace: 'default' });
      await t.store().insertDecision({ ...rec('r2', 'deny', 3_000, 'telegram'), namespace: 'default' });
      await t.store().insertDecision({ ...rec('r4', 'allow', 3_500, 'push'), namespace: 'default' });
      await t.store().insertDecision({ ...rec('r3', 'allow', 4_000), sessionId: 's2', namespace: 'default' });
      expect(await t.store().listDecisions('m1', 's1')).toEqual([rec('r1', 'allow', 2_000), rec('r2', 'deny', 3_000, 'telegram'), rec('r4', 'allow', 3_500, 'push')]);
      expect(await t.store().listDecisions('m1', 's2')).toHaveLength(1);
    });
  });
}
