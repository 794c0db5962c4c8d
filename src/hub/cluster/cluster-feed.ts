/**
 * Watch streams across replicas: what this replica publishes goes to its own watchers at once
 * (as on a single hub) and is announced on the change bus; what other replicas announce is read
 * from the tables here and published to this replica's watchers. After the bus reconnects
 * (announcements meanwhile are lost) every watched namespace is read again in full, and every
 * token this replica relies on is checked again.
 *
 * Reads are done one batch at a time, in order, with the ids of announcements that arrive
 * meanwhile coalesced: a watcher sees each row's newest state, never an older one after it.
 * Nobody watching means nothing is read: announcements then cost this replica no query.
 */
import type { Logger } from 'pino';
import type { MachineStore, SessionStore } from '../domain/ports.js';
import type { HubEvent, MachineRecord } from '../domain/types.js';
import type { WatchFeed } from '../domain/watch-feed.js';
import type { Change, ChangeBus } from './change-bus.js';

/** How far back a resync reaches for sessions that ended while the bus was away. */
export const RESYNC_ENDED_WINDOW_MS = 10 * 60_000;

export interface ClusterFeedOptions {
  feed: WatchFeed;
  bus: ChangeBus;
  store: Pick<MachineStore, 'getMachine' | 'listMachines'> & Pick<SessionStore, 'getSession' | 'listSessions'>;
  /** The record as this replica knows it better (presence: last-alive of its own streams). */
  withLastAlive(m: MachineRecord): MachineRecord;
  /** A token was revoked elsewhere (or may have been, with no id: after a resync). */
  tokensChanged(tokenId?: string): Promise<void>;
  log: Logger;
  now: () => Date;
}

export interface ClusterFeed {
  /** Publishes to this replica's watchers and announces to the others. */
  publish(namespace: string, event: HubEvent): void;
  /** Announces a revoked token to the other replicas. */
  tokenRevoked(tokenId: string): void;
  /** Starts listening to the other replicas. */
  start(): Promise<void>;
  /** Resolves when what was heard so far has been read and published (tests, shutdown). */
  settled(): Promise<void>;
  /** How many full resyncs ran (each after a bus reconnect). */
  readonly resyncs: number;
}

export function createClusterFeed(opts: ClusterFeedOptions): ClusterFeed {
  const { feed, bus, store, log } = opts;
  const pending = new Map<string, Change>();
  let resyncWanted = false;
  let resyncs = 0;
  let running: Promise<void> = Promise.resolve();
  let scheduled = false;

  const keyOf = (c: Change) => (c.kind === 'machine' ? `m ${c.machineId}` : c.kind === 'session' ? `s ${c.machineId} ${c.sessionId}` : `t ${c.tokenId}`);

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    running = running.then(async () => {
      scheduled = false;
      const full = resyncWanted;
      resyncWanted = false;
      const batch = [...pending.values()];
      pending.clear();
      try {
        if (full) await resync();
        else await apply(batch);
      } catch (err) {
        // The database is away: the next announcement or resync reads again; meanwhile
        // watchers keep what they have.
        log.warn({ err, changes: batch.length, full }, 'could not read changes announced by another replica');
      }
    });
  }

  async function apply(batch: Change[]): Promise<void> {
    for (const c of batch) {
      if (c.kind === 'token') {
        await opts.tokensChanged(c.tokenId);
        continue;
      }
      // Nobody watches here: nothing to read.
      if (feed.size === 0) continue;
      if (c.kind === 'machine') {
        const m = await store.getMachine(c.machineId);
        if (m) feed.publish(m.namespace, { type: 'machine', machine: opts.withLastAlive(m) });
      } else {
        const s = await store.getSession(c.machineId, c.sessionId);
        if (s) feed.publish(s.namespace, { type: 'session', session: s });
      }
    }
  }

  async function resync(): Promise<void> {
    resyncs++;
    await opts.tokensChanged();
    const since = opts.now().getTime() - RESYNC_ENDED_WINDOW_MS;
    const namespaces = feed.namespaces();
    for (const ns of namespaces) {
      for (const m of await store.listMachines(ns)) feed.publish(ns, { type: 'machine', machine: opts.withLastAlive(m) });
      for (const s of await store.listSessions(ns, { includeEnded: true })) {
        if (s.state !== 'ended' || (s.endedAt?.getTime() ?? 0) >= since) feed.publish(ns, { type: 'session', session: s });
      }
    }
    log.info({ namespaces: namespaces.size }, 'resynced watchers from the tables after the change bus reconnected');
  }

  return {
    publish(namespace, event) {
      feed.publish(namespace, event);
      bus.announce(event.type === 'machine' ? { kind: 'machine', machineId: event.machine.id } : { kind: 'session', machineId: event.session.machineId, sessionId: event.session.id });
    },
    tokenRevoked(tokenId) {
      bus.announce({ kind: 'token', tokenId });
    },
    start() {
      return bus.listen({
        changed(changes) {
          for (const c of changes) {
            // Re-inserted: a newer announcement of the same row moves it to the end.
            pending.delete(keyOf(c));
            pending.set(keyOf(c), c);
          }
          schedule();
        },
        resync() {
          resyncWanted = true;
          schedule();
        },
      });
    },
    async settled() {
      for (;;) {
        const r = running;
        await r;
        if (r === running && !scheduled) return;
      }
    },
    get resyncs() {
      return resyncs;
    },
  };
}
