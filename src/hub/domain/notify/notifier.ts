/**
 * The notifier (issue 13, "Notifications"): turns the hub's activity events into notifications
 * for people, with the rules a phone needs so it does not buzz all day:
 *
 * - one notification per session per change of state (waiting -> working -> waiting is two
 *   turns, two notifications; a repeated report of the same state is none); in needs_approval
 *   every request is notified once, however many reports carry it;
 * - coalesced: the first notable change of a session opens a window of `coalesceMs`; whatever
 *   happens in it is folded into one message about the state at its end (a state that went
 *   back to working in the meantime sends nothing); the window is not extended, so a
 *   notification is never later than `coalesceMs`;
 * - none while someone is viewing that session (`isBeingViewed`), none for a muted session;
 * - an exit only when the namespace asked for it (`notifyOnExit`);
 * - the mute and the namespace's settings are read from the store when a window closes, not
 *   kept: another hub on the same database may have changed them (a failed read sends nothing
 *   and is reported, outcome `failed`);
 * - rate-limited per namespace (a runaway agent in a loop cannot flood a phone).
 *
 * Channels (Telegram, Web Push) get each notification in parallel; a failing one is logged and
 * never holds up the others. Pure logic over an injected clock: unit tests run in microseconds.
 */
import { createRateLimiter, type RateLimit } from '../../../shared/rate-limit.js';
import type { ActivityEvent, ActivitySource, ActivityStateName, Notification, NotificationChannel, NotificationContext } from './activity-event.js';

/** Timers the notifier uses (tests pass a manual clock). */
export interface NotifierClock {
  now(): number;
  /** Calls `fn` after `ms`; returns the cancel. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const realClock: NotifierClock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/** Default coalescing window (HAPI_NOTIFY_COALESCE_MS). */
export const DEFAULT_COALESCE_MS = 2_000;
/** Default per-namespace limit: 20 at once, then one every 3 s. */
export const DEFAULT_NAMESPACE_LIMIT: RateLimit = { burst: 20, intervalMs: 3_000 };

export interface NotifierOptions {
  source: ActivitySource;
  channels: NotificationChannel[];
  /** Someone has the session's terminal open right now (the hub's viewers). */
  isBeingViewed(namespace: string, machineId: string, sessionId: string): boolean;
  /** The session is muted (stored per session; asked when a window closes). */
  isMuted(namespace: string, machineId: string, sessionId: string): Promise<boolean> | boolean;
  /** The namespace wants a notification when a session exits (stored per namespace; asked when a window closes). */
  notifyOnExit(namespace: string): Promise<boolean> | boolean;
  /** Names and screen lines, looked up at send time. */
  describe(e: ActivityEvent): Promise<NotificationContext> | NotificationContext;
  coalesceMs?: number;
  namespaceLimit?: RateLimit;
  clock?: NotifierClock;
  /** A channel failed, or describe did (logged by the caller). */
  onError?(err: unknown, where: string): void;
  /** Told what happened to each window (logs, tests, the benchmark). */
  onOutcome?(outcome: NotifyOutcome, e: ActivityEvent): void;
}

/** What became of a coalesced window. */
export type NotifyOutcome = 'sent' | 'unchanged' | 'not-notable' | 'viewed' | 'muted' | 'rate-limited' | 'failed';

export interface Notifier {
  /** Windows still open (sessions with a notification pending). */
  readonly pending: number;
  /** Resolves when every notification being sent now has been handed to its channels. */
  idle(): Promise<void>;
  /** Stops listening and drops pending windows. */
  close(): void;
}

interface SessionEntry {
  latest?: ActivityEvent;
  cancel?: () => void;
  /** The state last notified or seen settled (working); undefined: nothing yet. */
  lastState?: ActivityStateName;
  /** Request ids already notified (or seen while viewed or muted). */
  requests: Set<string>;
}

export function createNotifier(o: NotifierOptions): Notifier {
  const clock = o.clock ?? realClock;
  const coalesceMs = o.coalesceMs ?? DEFAULT_COALESCE_MS;
  const limiter = createRateLimiter({ ...(o.namespaceLimit ?? DEFAULT_NAMESPACE_LIMIT), now: clock.now });
  const entries = new Map<string, SessionEntry>();
  const inFlight = new Set<Promise<void>>();
  let closed = false;

  const keyOf = (e: ActivityEvent) => `${e.namespace}\0${e.machineId}\0${e.sessionId}`;
  /** Possibly worth a message; an exit is, when its namespace asks for exits (judged at send time). */
  const notable = (e: ActivityEvent) =>
    e.state === 'waiting_for_input' ||
    // Requests all left to a person's own terminal: someone is at the desk already.
    (e.state === 'needs_approval' && (e.requests.length === 0 || e.requests.some((r) => !r.atTerminal))) ||
    e.state === 'exited';
  /** Worth a message compared with what this session last said. */
  const news = (entry: SessionEntry, e: ActivityEvent) =>
    notable(e) && (e.state !== entry.lastState || (e.state === 'needs_approval' && e.requests.some((r) => !entry.requests.has(r.id))));

  /** Remembers `e` as said (sent, or seen by someone): the same news is not sent again. */
  function settle(entry: SessionEntry, e: ActivityEvent): void {
    entry.lastState = e.state;
    // Only pending ones matter: a settled request id never comes back.
    entry.requests = new Set(e.requests.map((r) => r.id));
  }

  function onEvent(e: ActivityEvent): void {
    if (closed) return;
    const key = keyOf(e);
    let entry = entries.get(key);
    if (!entry) entries.set(key, (entry = { requests: new Set() }));
    if (entry.cancel) {
      entry.latest = e;
      return;
    }
    if (!news(entry, e)) {
      if (!notable(e)) settle(entry, e);
      if (e.state === 'exited') entries.delete(key);
      return;
    }
    entry.latest = e;
    entry.cancel = clock.setTimer(() => fire(key), coalesceMs);
  }

  function fire(key: string): void {
    const entry = entries.get(key);
    if (!entry?.latest) return;
    const e = entry.latest;
    entry.cancel = undefined;
    entry.latest = undefined;
    if (e.state === 'exited') entries.delete(key);
    // Judged in order before anything is awaited: an event arriving meanwhile compares with this one.
    const outcome = judge(entry, e);
    const p = (async () => {
      const final = outcome === 'sent' ? await stored(e) : outcome;
      // Closed while the settings were being read: the hub is going away.
      if (closed) return;
      if (final !== 'sent') o.onOutcome?.(final, e);
      else await send(e);
    })()
      .catch((err: unknown) => o.onError?.(err, 'notifier'))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }

  function judge(entry: SessionEntry, e: ActivityEvent): NotifyOutcome {
    if (!notable(e)) {
      settle(entry, e);
      return 'not-notable';
    }
    if (!news(entry, e)) return 'unchanged';
    settle(entry, e);
    return 'sent';
  }

  /** What the stored settings, the viewers and the rate limit say, asked now. */
  async function stored(e: ActivityEvent): Promise<NotifyOutcome> {
    try {
      if (e.state === 'exited' && !(await o.notifyOnExit(e.namespace))) return 'not-notable';
      if (await o.isMuted(e.namespace, e.machineId, e.sessionId)) return 'muted';
    } catch (err) {
      o.onError?.(err, 'settings');
      return 'failed';
    }
    if (o.isBeingViewed(e.namespace, e.machineId, e.sessionId)) return 'viewed';
    if (limiter.take(e.namespace) > 0) return 'rate-limited';
    return 'sent';
  }

  async function send(e: ActivityEvent): Promise<void> {
    let ctx: NotificationContext;
    try {
      ctx = await o.describe(e);
    } catch (err) {
      o.onError?.(err, 'describe');
      ctx = { machineName: e.machineId, sessionName: e.sessionId, screen: [] };
    }
    const n: Notification = {
      ...ctx,
      namespace: e.namespace,
      machineId: e.machineId,
      sessionId: e.sessionId,
      state: e.state,
      guess: e.guess ?? false,
      message: e.message ?? '',
      requests: e.state === 'needs_approval' ? e.requests.filter((r) => !r.atTerminal) : [],
      at: e.at,
    };
    const results = await Promise.allSettled(o.channels.map((c) => c.send(n)));
    let failed = false;
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        failed = true;
        o.onError?.(r.reason, o.channels[i]!.name);
      }
    });
    o.onOutcome?.(failed ? 'failed' : 'sent', e);
  }

  const unsubscribe = o.source.subscribe(onEvent);

  return {
    get pending() {
      let n = 0;
      for (const e of entries.values()) if (e.cancel) n++;
      return n;
    },
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    close() {
      closed = true;
      unsubscribe();
      for (const e of entries.values()) e.cancel?.();
      entries.clear();
    },
  };
}
