/**
 * Machines and sessions as the hub last reported them, kept current by the hub's event stream
 * (`GET /api/v1/events`, Server-Sent Events `machine` and `session`). Every time the stream
 * (re)opens, the full lists are fetched again, so nothing missed while disconnected is lost.
 */
import { useEffect, useReducer, useState } from 'preact/hooks';
import { ApiError, currentSession, listMachines, listSessions, sessionHeaders } from './api.js';
import { openFetchEventStream } from './event-stream.js';
import type { Machine, Session } from './types.js';

export interface HubData {
  machines: ReadonlyMap<string, Machine>;
  sessions: ReadonlyMap<string, Session>;
}

export type LiveStatus = 'connecting' | 'live' | 'reconnecting';

type Action =
  | { type: 'snapshot'; machines: Machine[]; sessions: Session[] }
  | { type: 'machine'; machine: Machine }
  | { type: 'session'; session: Session };

const EMPTY: HubData = { machines: new Map(), sessions: new Map() };

export function reduce(state: HubData, action: Action): HubData {
  switch (action.type) {
    case 'snapshot':
      return {
        machines: new Map(action.machines.map((m) => [m.id, m])),
        sessions: new Map(action.sessions.map((s) => [s.id, s])),
      };
    case 'machine': {
      const machines = new Map(state.machines);
      machines.set(action.machine.id, action.machine);
      return { ...state, machines };
    }
    case 'session': {
      const sessions = new Map(state.sessions);
      sessions.set(action.session.id, action.session);
      return { ...state, sessions };
    }
  }
}

/** An event's payload: the object itself, or wrapped as `{ machine: ... }` / `{ session: ... }`. */
function unwrap<T extends { id: string }>(data: string, key: 'machine' | 'session'): T | undefined {
  try {
    const parsed = JSON.parse(data) as Record<string, unknown>;
    const value = (parsed[key] ?? parsed) as T;
    return value && typeof value.id === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

const MAX_RETRY_MS = 30_000;

/**
 * Subscribes while `enabled`. `onSignedOut` is called when the stream is refused because the
 * sign-in ended. Returns the data, the stream's status, and the last error loading it.
 */
export function useHubData(enabled: boolean, onSignedOut: () => void): { data: HubData; live: LiveStatus; error: string } {
  const [data, dispatch] = useReducer(reduce, EMPTY);
  const [live, setLive] = useState<LiveStatus>('connecting');
  const [error, setError] = useState('');

  useEffect(() => {
    if (!enabled) return;
    let stopped = false;
    let source: { close(): void } | undefined;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    // Events that arrive while a snapshot is loading are applied after it, in order.
    let pending: Action[] | undefined;

    const apply = (action: Action) => {
      if (pending) pending.push(action);
      else dispatch(action);
    };

    const resync = async () => {
      pending = [];
      try {
        const [machines, sessions] = await Promise.all([listMachines(), listSessions()]);
        if (stopped) return;
        dispatch({ type: 'snapshot', machines, sessions });
        setError('');
      } catch (err) {
        if (!stopped) setError(err instanceof ApiError ? err.message : String(err));
      } finally {
        const queued = pending;
        pending = undefined;
        if (!stopped) for (const action of queued) dispatch(action);
      }
    };

    const scheduleReconnect = () => {
      const delay = Math.min(MAX_RETRY_MS, 500 * 2 ** Math.min(failures, 6)) * (0.5 + Math.random() / 2);
      failures++;
      retryTimer = setTimeout(connect, delay);
    };

    const opened = () => {
      failures = 0;
      setLive('live');
      void resync();
    };

    const onEvent = (type: string, data: string) => {
      if (type === 'machine') {
        const machine = unwrap<Machine>(data, 'machine');
        if (machine) apply({ type: 'machine', machine });
      } else if (type === 'session') {
        const session = unwrap<Session>(data, 'session');
        if (session) apply({ type: 'session', session });
      }
    };

    /** The stream is gone for good: find out whether the sign-in ended, else retry with backoff. */
    const lost = () => {
      if (stopped) return;
      setLive('reconnecting');
      currentSession().then(
        (session) => {
          if (stopped) return;
          if (!session) onSignedOut();
          else scheduleReconnect();
        },
        () => {
          if (!stopped) scheduleReconnect();
        },
      );
    };

    const connect = () => {
      if (stopped) return;
      setLive(failures === 0 ? 'connecting' : 'reconnecting');
      const headers = sessionHeaders();
      if (Object.keys(headers).length > 0) {
        source = openFetchEventStream('/api/v1/events', headers, { open: opened, event: onEvent, lost });
        return;
      }
      const es = new EventSource('/api/v1/events');
      source = es;
      es.addEventListener('open', opened);
      es.addEventListener('machine', (e) => onEvent('machine', (e as MessageEvent<string>).data));
      es.addEventListener('session', (e) => onEvent('session', (e as MessageEvent<string>).data));
      es.addEventListener('error', () => {
        if (stopped) return;
        setLive('reconnecting');
        // CONNECTING: the browser retries by itself. CLOSED: it gave up (an HTTP error such as 401).
        if (es.readyState !== EventSource.CLOSED) return;
        es.close();
        lost();
      });
    };

    connect();
    return () => {
      stopped = true;
      clearTimeout(retryTimer);
      source?.close();
    };
  }, [enabled]);

  return { data, live, error };
}

/** The current time, re-read every `intervalMs` (for ages and "since" labels). */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
