/**
 * What the notifier consumes: "a session needs you / waits / exited". The shape is the one of
 * the hub's attention event (session-activity.ts AttentionEvent on the `attention` branch:
 * namespace, machine, session, state, requests, message, at), declared here structurally so the
 * notifier builds and is tested on its own; the hub connects the two with
 * `subscribe: core.onAttention` (hub-notify.ts). Machine names and screen lines are not part of
 * the event: the notifier asks `describe` for them when (and only when) it sends.
 */

/** What an agent is doing (hapi.common.v1.AgentActivity state names). */
export type ActivityStateName = 'working' | 'waiting_for_input' | 'needs_approval' | 'exited';

/** One pending approval request, as far as a notification shows it. */
export interface ActivityRequest {
  id: string;
  tool: string;
  command: string;
  file: string;
  description: string;
  /** The decisions the agent offers ('allow', 'deny', 'allow_session'). */
  choices: string[];
  /** Left to the agent's own prompt in a person's terminal: no buttons. */
  atTerminal?: boolean;
}

/** One change of a session's activity. */
export interface ActivityEvent {
  namespace: string;
  machineId: string;
  sessionId: string;
  state: ActivityStateName;
  /** A guess from terminal silence rather than the agent's hooks. */
  guess?: boolean;
  /** The agent's notification message, if any. */
  message?: string;
  /** Every request pending now (state needs_approval). */
  requests: ActivityRequest[];
  at: Date;
}

/** Where activity events come from (the hub's attention listeners). */
export interface ActivitySource {
  /** Adds a listener; returns the unsubscribe. */
  subscribe(listener: (e: ActivityEvent) => void): () => void;
}

/** What a notification says besides the event: looked up when it is sent. */
export interface NotificationContext {
  /** The machine's display name (its host name when it has none). */
  machineName: string;
  /** A short name for the session (its directory's last part and agent). */
  sessionName: string;
  /** The last non-empty lines of its screen, oldest first. */
  screen: string[];
}

/** One notification, as every channel (Telegram, Web Push) receives it. */
export interface Notification extends NotificationContext {
  namespace: string;
  machineId: string;
  sessionId: string;
  state: ActivityStateName;
  guess: boolean;
  message: string;
  /** Pending requests; the last one is the newest. */
  requests: ActivityRequest[];
  at: Date;
}

/** A way out to people (one per product: Telegram, Web Push). */
export interface NotificationChannel {
  readonly name: string;
  /** Delivers to every recipient of `n.namespace`; rejects only on a failure worth logging. */
  send(n: Notification): Promise<void>;
}

/** A decision on an approval request made from a notification (a Telegram button, a push action). */
export interface NotificationDecision {
  namespace: string;
  machineId: string;
  sessionId: string;
  requestId: string;
  allow: boolean;
  /** Who decided, as the decision record names them (`telegram:<user id>`, a token id). */
  who: string;
  /** What they pressed it in. */
  via: 'telegram' | 'push';
}

/**
 * Applies a decision through the hub's approvals (scopes, namespaces, the relay to the session):
 * resolves when the agent has it; rejects with the hub's typed errors (FailedPrecondition for a
 * request no longer pending, PermissionDenied for a read-only caller, NotFound across namespaces).
 */
export type DecideApproval = (d: NotificationDecision) => Promise<void>;
