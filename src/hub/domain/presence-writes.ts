/**
 * The presence's writes nobody waits for: last-alive times and offline marks. They stay in
 * memory until the store takes them and are retried with capped exponential backoff while it
 * cannot (a database locked by another process answers UnavailableError), with one log line
 * per failed attempt. Nothing here throws: a store error never ends the hub.
 */
import type { Logger } from 'pino';
import { createBackoff } from '../../shared/backoff.js';
import { isHapiError } from '../../shared/errors.js';
import type { MachineStore, UnitOfWork } from './ports.js';
import type { MachineRecord } from './types.js';
import { lostRunnerState } from './versioned.js';

/** A machine whose stream ended at `at`; its stored record still says online until saved. */
export interface OfflineMark {
  at: Date;
  lastAlive: Date;
}

export interface PresenceWrites {
  alive(machineId: string, lastAlive: Date): void;
  offline(machineId: string, mark: OfflineMark): void;
  /** The machine came back online (and that was saved): its pending offline mark is void. */
  cancelOffline(machineId: string): void;
  pendingOffline(machineId: string): OfflineMark | undefined;
  /**
   * Saves what is pending in one transaction, unless backing off after a failure. Returns the
   * records it marked offline (to publish); on failure keeps everything for the next attempt.
   */
  flush(): MachineRecord[];
  readonly pending: number;
}

export interface PresenceWritesOptions {
  store: MachineStore & UnitOfWork;
  log: Logger;
  now: () => Date;
  /** True while the machine has an open stream (an offline mark is then stale). */
  isConnected(machineId: string): boolean;
  /** First retry delay; doubles per failure up to `maxRetryMs` (the project's one backoff, src/shared/backoff.ts). */
  initialRetryMs: number;
  maxRetryMs?: number;
}

export function createPresenceWrites(opts: PresenceWritesOptions): PresenceWrites {
  const { store, log, now, isConnected, initialRetryMs } = opts;
  const maxMs = opts.maxRetryMs ?? 30_000;
  const alive = new Map<string, Date>();
  const offline = new Map<string, OfflineMark>();
  const backoff = createBackoff({ initialMs: initialRetryMs, maxMs, now: () => now().getTime() });
  let retryAt = 0;

  function save(): MachineRecord[] {
    return store.transaction((tx) => {
      tx.saveLastAlive([...alive].filter(([id]) => !offline.has(id)).map(([id, lastAlive]) => ({ id, lastAlive })));
      const saved: MachineRecord[] = [];
      for (const [id, mark] of offline) {
        const m = tx.getMachine(id);
        if (!m || !m.online || isConnected(id)) continue;
        m.online = false;
        m.onlineSince = mark.at;
        m.lastAlive = mark.lastAlive;
        const state = lostRunnerState(m.runnerState, mark.at);
        if (state !== m.runnerState) {
          m.runnerState = state;
          m.runnerStateVersion++;
        }
        tx.saveMachine(m);
        saved.push(m);
      }
      return saved;
    });
  }

  return {
    alive(machineId, lastAlive) {
      alive.set(machineId, lastAlive);
    },
    offline(machineId, mark) {
      offline.set(machineId, mark);
    },
    cancelOffline(machineId) {
      offline.delete(machineId);
    },
    pendingOffline(machineId) {
      return offline.get(machineId);
    },
    flush() {
      if (alive.size === 0 && offline.size === 0) return [];
      const t = now().getTime();
      if (t < retryAt) return [];
      try {
        const saved = save();
        alive.clear();
        offline.clear();
        if (backoff.attempt > 0) log.info({ failedAttempts: backoff.attempt }, 'presence writes saved again');
        backoff.reset();
        retryAt = 0;
        return saved;
      } catch (err) {
        const delay = backoff.failed();
        retryAt = t + delay;
        const fields = { err, attempt: backoff.attempt, retryInMs: delay, lastAlive: alive.size, offlineMarks: offline.size };
        if (isHapiError(err) && err.kind === 'Unavailable') log.warn(fields, 'could not save presence (last-alive times, offline marks); retrying');
        else log.error(fields, 'unexpected store error saving presence; retrying');
        return [];
      }
    },
    get pending() {
      return alive.size + offline.size;
    },
  };
}
