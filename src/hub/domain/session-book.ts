/**
 * The hub's record of sessions, as runners report them. A runner is the truth for its own
 * machine: its hello reconciles the record (what it no longer has has ended), and its session
 * events update it; what is stored is published to watchers.
 */
import type { SessionInfo } from '../../contract/types.js';
import type { SessionStore } from './ports.js';
import type { HubEvent, HubSession } from './types.js';

/** What the runner says happened to a session. */
export type SessionEventKind = 'started' | 'ended' | 'adopted';

export interface SessionBook {
  /** Records the session as reported; returns what is stored. */
  upsert(namespace: string, machineId: string, session: SessionInfo): Promise<HubSession>;
  /** At hello: `reported` is what the machine runs now; its other live sessions are ended at `at`. */
  reconcile(namespace: string, machineId: string, reported: SessionInfo[], at: Date): Promise<void>;
  /** A session event from the runner; an `ended` event ends the session whatever state it carries. */
  event(namespace: string, machineId: string, kind: SessionEventKind, session: SessionInfo, at: Date): Promise<void>;
}

export interface SessionBookOptions {
  store: SessionStore;
  publish(namespace: string, event: HubEvent): void;
}

const same = <T>(a: T, b: T) => a === b;
const sameTime = (a: Date | undefined, b: Date | undefined) => a?.getTime() === b?.getTime();

/**
 * One comparison per field (the mapped type makes a new field a compile error until it is
 * listed here). Field by field, not JSON: a row read back from the store has its keys in
 * another order than a report, and Dates compare by time.
 */
const FIELD_EQUALS: { [K in keyof Required<HubSession>]-?: (a: HubSession[K], b: HubSession[K]) => boolean } = {
  id: same,
  machineId: same,
  namespace: same,
  pid: same,
  processStartTime: same,
  startedBy: same,
  directory: same,
  agent: same,
  startedAt: sameTime,
  state: same,
  endedAt: sameTime,
  exitCode: same,
  exitSignal: same,
  worktree: (a, b) => a === b || (!!a && !!b && a.path === b.path && a.branch === b.branch && a.repository === b.repository),
  logPath: same,
  requestId: same,
  // Not the runner's report: kept by its own write (setSessionActivity), which upserts leave alone.
  sharedActivity: () => true,
};

/** True when the two records hold the same values, whatever their keys' order. */
export function sameSession(a: HubSession, b: HubSession): boolean {
  return (Object.keys(FIELD_EQUALS) as (keyof HubSession)[]).every((k) =>
    (FIELD_EQUALS[k] as (x: unknown, y: unknown) => boolean)(a[k], b[k]),
  );
}

export function createSessionBook(opts: SessionBookOptions): SessionBook {
  const { store, publish } = opts;

  async function upsert(namespace: string, machineId: string, s: SessionInfo): Promise<HubSession> {
    const next: HubSession = { ...s, machineId, namespace };
    // Local to the runner's machine: meaningless to the hub's clients.
    delete (next as Partial<SessionInfo>).logPath;
    delete (next as Partial<SessionInfo>).processStartTime;
    const prev = await store.getSession(machineId, s.id);
    // An unchanged report (every hello repeats each live session) is neither saved nor published.
    if (prev && sameSession(prev, next)) return prev;
    await store.upsertSession(next);
    publish(namespace, { type: 'session', session: next });
    return next;
  }

  return {
    upsert,

    async reconcile(namespace, machineId, reported, at) {
      const ids = new Set(reported.map((s) => s.id));
      for (const s of reported) await upsert(namespace, machineId, s);
      for (const s of await store.liveSessionsOf(machineId)) {
        if (ids.has(s.id)) continue;
        await upsert(namespace, machineId, { ...s, state: 'ended', endedAt: s.endedAt ?? at });
      }
    },

    async event(namespace, machineId, kind, session, at) {
      if (!session.id) return;
      const s = kind === 'ended' && session.state !== 'ended' ? { ...session, state: 'ended' as const, endedAt: session.endedAt ?? at } : session;
      await upsert(namespace, machineId, s);
    },
  };
}
