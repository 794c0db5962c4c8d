/**
 * What runners report of their live terminals (machine.proto, SessionActivity): when each agent
 * last wrote output and the last line of its screen, for the page's session list. Held in memory
 * only (it changes every few seconds and a runner reports it all again on every new link), never
 * stored; an entry goes when its session ends. Each change is published as the session's event,
 * and the REST view adds the activity to the session it sends.
 */
import type { SessionActivityInfo } from '../../contract/types.js';
import type { SessionStore } from './ports.js';
import type { HubEvent } from './types.js';

export interface SessionActivity {
  lastOutputAt?: Date;
  lastLine: string;
}

export interface ActivityBook {
  /** A runner's report: entries of sessions this machine does not have live are ignored. */
  record(namespace: string, machineId: string, entries: SessionActivityInfo[]): void;
  of(machineId: string, sessionId: string): SessionActivity | undefined;
  forget(machineId: string, sessionId: string): void;
}

export function createActivityBook(opts: { store: Pick<SessionStore, 'getSession'>; publish(namespace: string, event: HubEvent): void }): ActivityBook {
  const held = new Map<string, SessionActivity>();
  const key = (machineId: string, sessionId: string) => `${machineId}\0${sessionId}`;
  return {
    record(namespace, machineId, entries) {
      for (const e of entries) {
        const session = opts.store.getSession(machineId, e.sessionId);
        if (!session || session.namespace !== namespace || session.state === 'ended') continue;
        const k = key(machineId, e.sessionId);
        const prev = held.get(k);
        if (prev && prev.lastLine === e.lastLine && prev.lastOutputAt?.getTime() === e.lastOutputAt?.getTime()) continue;
        held.set(k, { lastOutputAt: e.lastOutputAt, lastLine: e.lastLine });
        opts.publish(namespace, { type: 'session', session });
      }
    },
    of: (machineId, sessionId) => held.get(key(machineId, sessionId)),
    forget(machineId, sessionId) {
      held.delete(key(machineId, sessionId));
    },
  };
}
