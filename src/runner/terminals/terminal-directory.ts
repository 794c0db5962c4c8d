/**
 * The runner's registry of session terminals: for each live session, its socket (derived from
 * the id in one place, sessionSocketPathFor) and what its GetInfo last said: attachable or not,
 * protocol version, viewers, time of last output. A session is looked at when the runner learns
 * of it (started, or re-adopted after a crash, a stop/start or a hand-off) and again when a list
 * finds its figures older than FRESH_MS.
 *
 * A list with thousands of sessions stays fast: it waits (at most `waitMs`) only for sessions
 * never looked at or known to have changed (a viewer came or went through this runner); figures
 * older than FRESH_MS are shown as last known, with their time, and refreshed in the background
 * for the next list. Refreshes run in parallel (at most CONCURRENCY calls at once, each on its
 * own short connection). A session without a socket costs one stat.
 */
import { existsSync } from 'node:fs';
import type { SessionTerminalInfo } from '../../contract/types.js';
import type { Logger } from '../../shared/logger.js';
import type { SessionTerminalInfo as LinkInfo } from './session-link.js';

/** Figures younger than this are shown as they are. */
export const FRESH_MS = 1_000;
/** GetInfo calls in flight at once. */
export const CONCURRENCY = 64;
/** How long one GetInfo may take before the session counts as not answering. */
export const INFO_TIMEOUT_MS = 2_000;

export const NO_SOCKET_DETAIL = 'no terminal socket: started by a hapi older than live sessions, or its terminal could not be served';

interface Endpoint {
  socket: string;
  figures: SessionTerminalInfo;
  checkedAt: number;
  refreshing?: Promise<void>;
}

export interface TerminalDirectory {
  /** A session the runner tracks now (started or adopted): looked at in the background. */
  track(sessionId: string): void;
  forget(sessionId: string): void;
  /** Its figures changed (a viewer came or went through this runner): asked again on the next list. */
  invalidate(sessionId: string): void;
  /** The ids of the sessions tracked now (the live ones). */
  ids(): string[];
  /** The socket of a tracked session (tracking it if needed). */
  socket(sessionId: string): string;
  /** Refreshes what is stale, waits at most `waitMs`, and answers the figures of each id. */
  describe(ids: string[], waitMs: number): Promise<Map<string, SessionTerminalInfo>>;
}

export interface TerminalDirectoryOptions {
  socketFor: (sessionId: string) => string;
  getInfo: (socket: string, signal: AbortSignal) => Promise<LinkInfo>;
  log: Logger;
  now?: () => number;
}

export function createTerminalDirectory(o: TerminalDirectoryOptions): TerminalDirectory {
  const now = o.now ?? Date.now;
  const endpoints = new Map<string, Endpoint>();
  const limit = createLimiter(CONCURRENCY);

  function endpoint(id: string): Endpoint {
    let e = endpoints.get(id);
    if (!e) {
      e = { socket: o.socketFor(id), figures: { attachable: false, protocolVersion: 0, viewers: 0, ended: false, detail: 'not looked at yet' }, checkedAt: 0 };
      endpoints.set(id, e);
    }
    return e;
  }

  async function look(id: string, e: Endpoint): Promise<void> {
    if (!existsSync(e.socket)) {
      e.figures = { attachable: false, protocolVersion: 0, viewers: 0, ended: false, checkedAt: new Date(now()), detail: NO_SOCKET_DETAIL };
      e.checkedAt = now();
      return;
    }
    try {
      const info = await limit(() => o.getInfo(e.socket, AbortSignal.timeout(INFO_TIMEOUT_MS)));
      const attachable = info.protocolVersion >= 1;
      e.figures = {
        attachable,
        protocolVersion: info.protocolVersion,
        viewers: info.viewers,
        lastOutputAt: info.lastOutputAt,
        activity: info.activity,
        ended: false,
        checkedAt: new Date(now()),
        detail: attachable ? undefined : 'its socket answers without a protocol version',
      };
    } catch (err) {
      // Still listed, never dropped: asked again on the next list.
      e.figures = { ...e.figures, attachable: false, protocolVersion: 0, checkedAt: new Date(now()), detail: `its socket does not answer: ${err instanceof Error ? err.message : String(err)}` };
      o.log.debug({ sessionId: id, err }, 'session terminal does not answer GetInfo');
    }
    e.checkedAt = now();
  }

  function refresh(id: string, e: Endpoint): Promise<void> {
    e.refreshing ??= look(id, e).finally(() => (e.refreshing = undefined));
    return e.refreshing;
  }

  return {
    track(id) {
      void refresh(id, endpoint(id));
    },
    forget(id) {
      endpoints.delete(id);
    },
    invalidate(id) {
      const e = endpoints.get(id);
      if (e) e.checkedAt = 0;
    },
    ids: () => [...endpoints.keys()],
    socket: (id) => endpoint(id).socket,
    async describe(ids, waitMs) {
      const pending: Promise<void>[] = [];
      for (const id of ids) {
        const e = endpoint(id);
        // Never looked at, or known to have changed: worth waiting for (within waitMs). Merely
        // old: shown as last known (with its checked_at) while a refresh runs in the background.
        if (e.checkedAt === 0) pending.push(refresh(id, e));
        else if (now() - e.checkedAt >= FRESH_MS) void refresh(id, e);
      }
      if (pending.length > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.all(pending), new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
        clearTimeout(timer);
      }
      const out = new Map<string, SessionTerminalInfo>();
      for (const id of ids) out.set(id, { ...endpoint(id).figures });
      return out;
    },
  };
}

/** Runs at most `n` of the given tasks at once, the others in arrival order. */
function createLimiter(n: number) {
  let running = 0;
  const queue: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((r) => queue.push(r));
    running++;
    try {
      return await task();
    } finally {
      running--;
      queue.shift()?.();
    }
  };
}
