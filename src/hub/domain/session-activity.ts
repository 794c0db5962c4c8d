/**
 * What runners report of their live terminals (machine.proto, SessionActivity): when each agent
 * last wrote output, the last line of its screen, and what the agent is doing (working, waiting
 * for input, asking for approval: hapi.common.v1.AgentActivity). Held in memory (it changes
 * every few seconds and a runner reports it all again on every new link); an entry goes when its
 * session ends. With several replicas, each change of the agent's activity alone (not the screen
 * line) is also stored (`share`) for the replicas that do not hold the stream. Each change is
 * published as the session's event, and the views add the activity to the session they send.
 *
 * It is also where "a session needs you" starts: every change of a session's state, every new
 * approval request, and a session's end are told to the attention listeners (AttentionEvent),
 * the one subscribable event notifications build on (coalescing and rate limits are theirs).
 */
import { sameActivity, type ActivityStateName, type AgentActivityInfo, type ApprovalRequestInfo } from '../../contract/activity-types.js';
import type { SessionActivityInfo } from '../../contract/types.js';
import type { SessionStore } from './ports.js';
import type { HubEvent } from './types.js';

export interface SessionActivity {
  lastOutputAt?: Date;
  lastLine: string;
  activity?: AgentActivityInfo;
}

/**
 * A session needs someone, waits, or has exited. Told once per change of state, and again for
 * every new approval request while it needs approval. Never crosses namespaces: listeners filter
 * by `namespace` themselves (the hub holds all of them).
 */
export interface AttentionEvent {
  namespace: string;
  machineId: string;
  sessionId: string;
  state: ActivityStateName;
  /** The state before (undefined: the hub had none, e.g. after its restart). */
  previous?: ActivityStateName;
  /** A guess from terminal silence, not the agent's hooks. */
  guess: boolean;
  /** The agent's notification message, if any. */
  message: string;
  /** Pending requests (state needs_approval). */
  requests: ApprovalRequestInfo[];
  /** Requests new since the last event (what a notification would be about). */
  newRequests: ApprovalRequestInfo[];
  at: Date;
}

export interface ActivityBook {
  /** A runner's report: entries of sessions this machine does not have live are ignored. */
  record(namespace: string, machineId: string, entries: SessionActivityInfo[]): Promise<void>;
  of(machineId: string, sessionId: string): SessionActivity | undefined;
  /** A decision went through: the request clears from every view now, not at the runner's next report. */
  settled(namespace: string, machineId: string, sessionId: string, requestId: string): Promise<void>;
  /** The session ended (told as `exited` when the hub knew its activity). */
  forget(namespace: string, machineId: string, sessionId: string): void;
  /** Subscribes to attention events; returns the unsubscribe. */
  onAttention(listener: (e: AttentionEvent) => void): () => void;
}

export function createActivityBook(opts: {
  store: Pick<SessionStore, 'getSession'>;
  publish(namespace: string, event: HubEvent): void;
  /**
   * Several replicas: stores a session's changed activity for the others (the sessions row), before
   * the change is published, so a replica that reads the row on the change bus's doorbell reads the
   * new activity. Called once per change of the agent's activity, not per screen line.
   */
  share?(namespace: string, machineId: string, sessionId: string, activity: AgentActivityInfo | undefined): Promise<void>;
  now?: () => Date;
  onListenerError?: (err: unknown) => void;
  onShareError?: (err: unknown) => void;
}): ActivityBook {
  const now = opts.now ?? (() => new Date());
  const held = new Map<string, SessionActivity>();
  const listeners = new Set<(e: AttentionEvent) => void>();
  const key = (machineId: string, sessionId: string) => `${machineId}\0${sessionId}`;

  function tell(namespace: string, machineId: string, sessionId: string, prev: AgentActivityInfo | undefined, next: AgentActivityInfo): void {
    const known = new Set(prev?.requests.map((r) => r.id));
    const newRequests = next.requests.filter((r) => !known.has(r.id));
    if (prev?.state === next.state && newRequests.length === 0) return;
    const e: AttentionEvent = {
      namespace,
      machineId,
      sessionId,
      state: next.state,
      previous: prev?.state,
      guess: next.guess,
      message: next.message,
      requests: next.requests,
      newRequests,
      at: now(),
    };
    for (const l of listeners) {
      try {
        l(e);
      } catch (err) {
        opts.onListenerError?.(err);
      }
    }
  }

  /** The others keep what they had when the store refuses (logged): the next change writes again. */
  async function share(namespace: string, machineId: string, sessionId: string, activity: AgentActivityInfo | undefined): Promise<void> {
    try {
      await opts.share?.(namespace, machineId, sessionId, activity);
    } catch (err) {
      opts.onShareError?.(err);
    }
  }

  async function publishSession(namespace: string, machineId: string, sessionId: string): Promise<void> {
    const session = await opts.store.getSession(machineId, sessionId);
    if (session) opts.publish(namespace, { type: 'session', session });
  }

  return {
    async record(namespace, machineId, entries) {
      for (const e of entries) {
        const session = await opts.store.getSession(machineId, e.sessionId);
        if (!session || session.namespace !== namespace || session.state === 'ended') continue;
        const k = key(machineId, e.sessionId);
        const prev = held.get(k);
        if (prev && prev.lastLine === e.lastLine && prev.lastOutputAt?.getTime() === e.lastOutputAt?.getTime() && sameActivity(prev.activity, e.activity)) continue;
        held.set(k, { lastOutputAt: e.lastOutputAt, lastLine: e.lastLine, activity: e.activity });
        if (!sameActivity(prev?.activity, e.activity)) await share(namespace, machineId, e.sessionId, e.activity);
        if (e.activity) tell(namespace, machineId, e.sessionId, prev?.activity, e.activity);
        opts.publish(namespace, { type: 'session', session });
      }
    },
    of: (machineId, sessionId) => held.get(key(machineId, sessionId)),
    async settled(namespace, machineId, sessionId, requestId) {
      const k = key(machineId, sessionId);
      const prev = held.get(k);
      if (!prev?.activity || !prev.activity.requests.some((r) => r.id === requestId)) return;
      const requests = prev.activity.requests.filter((r) => r.id !== requestId);
      const activity: AgentActivityInfo = {
        ...prev.activity,
        requests,
        state: requests.length > 0 ? 'needs_approval' : 'working',
        guess: false,
        since: requests.length > 0 ? prev.activity.since : now(),
      };
      held.set(k, { ...prev, activity });
      await share(namespace, machineId, sessionId, activity);
      tell(namespace, machineId, sessionId, prev.activity, activity);
      await publishSession(namespace, machineId, sessionId);
    },
    forget(namespace, machineId, sessionId) {
      const k = key(machineId, sessionId);
      const prev = held.get(k);
      held.delete(k);
      if (prev?.activity) tell(namespace, machineId, sessionId, prev.activity, { ...prev.activity, state: 'exited', requests: [], guess: false, since: now() });
    },
    onAttention(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
