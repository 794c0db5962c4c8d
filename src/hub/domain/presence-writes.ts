/**
 * The presence's writes nobody waits for: last-alive times and offline marks. They stay in
 * memory until the store takes them and are retried with capped exponential backoff while it
 * cannot (a database locked by another process answers UnavailableError), with one log line
 * per failed attempt. Nothing here throws: a store error never ends the hub.
 */
import type { Logger } from 'pino';
import { createBackoff } from '../../shared/backoff.js';
import { isHapiError } from '../../shared/errors.js';
import type { MachineOwnershipStore, MachineStore, UnitOfWork } from './ports.js';
import type { MachineRecord } from './types.js';
import { lostRunnerState } from './versioned.js';

/** A machine whose stream ended at `at`; its stored record still says online until saved. */
export interface OfflineMark {
  at: Date;
  lastAlive: Date;
  /** The stream's owner epoch (several replicas): saved only while the machine's epoch is still this one. */
  epoch?: number;
}

export interface PresenceWrites {
  alive(machineId: string, lastAlive: Date): void;
  offline(machineId: string, mark: OfflineMark): void;
  /** The machine came back online (and that was saved): its pending offline mark is void. */
  cancelOffline(machineId: string): void;
  pendingOffline(machineId: string): OfflineMark | undefined;
  /**
   * Saves what is pending in one transaction, unless backing off after a failure or a flush is
   * still running. Resolves to the records it marked offline (to publish); on failure keeps
   * everything for the next attempt. Never rejects.
   */
  flush(): Promise<MachineRecord[]>;
  readonly pending: number;
}

/** Offline marks saved per transaction. */
export const OFFLINE_BATCH = 100;

export interface PresenceWritesOptions {
  store: MachineStore & MachineOwnershipStore & UnitOfWork;
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
  /** The flush under way: a flush asked for meanwhile runs after it (what it saves is not pending any more). */
  let running: Promise<MachineRecord[]> | undefined;

  /** Saves these entries (a copy of what was pending when the flush began). */
  function save(aliveNow: Map<string, Date>, offlineNow: Map<string, OfflineMark>): Promise<MachineRecord[]> {
    return store.transaction(async (tx) => {
      await tx.saveLastAlive([...aliveNow].filter(([id]) => !offlineNow.has(id)).map(([id, lastAlive]) => ({ id, lastAlive })));
      const saved: MachineRecord[] = [];
      for (const [id, mark] of offlineNow) {
        if (mark.epoch !== undefined) {
          // Another replica claimed the machine since (its runner moved there): not ours to mark.
          const owner = await tx.machineOwner(id);
          if (!owner || owner.epoch !== mark.epoch) continue;
        }
        const m = await tx.getMachine(id);
        // Checked after the read: the machine may have come back while the flush waited.
        if (!m || !m.online || isConnected(id) || offline.get(id) !== mark) continue;
        m.online = false;
        m.onlineSince = mark.at;
        m.lastAlive = mark.lastAlive;
        const state = lostRunnerState(m.runnerState, mark.at);
        if (state !== m.runnerState) {
          m.runnerState = state;
          m.runnerStateVersion++;
        }
        await tx.saveMachine(m);
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
      if (running) return running.then(() => this.flush());
      running = flushOnce().finally(() => (running = undefined));
      return running;
    },
    get pending() {
      return alive.size + offline.size;
    },
  };

  async function flushOnce(): Promise<MachineRecord[]> {
    if (alive.size === 0 && offline.size === 0) return [];
    const t = now().getTime();
    if (t < retryAt) return [];
    const saved: MachineRecord[] = [];
    try {
      // Offline marks in short transactions of OFFLINE_BATCH each: a replica giving up thousands
      // of streams at once must not hold their rows locked in one long transaction while their
      // runners reconnect and claim them (each claim would wait for all of it).
      const ids = [...offline.keys()];
      for (let i = 0; i === 0 || i < ids.length; i += OFFLINE_BATCH) {
        const aliveNow = i === 0 ? new Map(alive) : new Map<string, Date>();
        const offlineNow = new Map<string, OfflineMark>();
        for (const id of ids.slice(i, i + OFFLINE_BATCH)) {
          const mark = offline.get(id);
          if (mark) offlineNow.set(id, mark);
        }
        saved.push(...(await save(aliveNow, offlineNow)));
        // Only what was saved: entries that changed meanwhile wait for the next flush.
        for (const [id, at] of aliveNow) if (alive.get(id) === at) alive.delete(id);
        for (const [id, mark] of offlineNow) if (offline.get(id) === mark) offline.delete(id);
      }
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
      // Batches saved before the failure are published; the rest waits for the retry.
      return saved;
    }
  }
}
