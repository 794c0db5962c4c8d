/**
 * Notifications wired into a running hub: the notifier (domain) fed by the hub's attention
 * events, asking the hub who is viewing and the store what is muted, with its channels
 * (Web Push always; Telegram when the bot is configured) and the Telegram button poller.
 * Started by the web page's mount (src/hub/web/index.ts), closed with it.
 */
import { basename } from 'node:path';
import type { WebConfig } from '../../shared/config-web.js';
import type { Logger } from '../../shared/logger.js';
import type { HubCore } from '../domain/hub-core.js';
import type { HubStore } from '../domain/ports.js';
import type { Caller } from '../domain/types.js';
import type { ActivityEvent, ActivitySource, DecideApproval, NotificationChannel, NotificationContext } from '../domain/notify/activity-event.js';
import { createNotifier, type Notifier, type NotifierOptions } from '../domain/notify/notifier.js';
import { createTelegramApi } from './telegram-api.js';
import { createTelegramChannel } from './telegram-channel.js';
import { startTelegramPoller, type TelegramPoller } from './telegram-poller.js';
import { runAsSingleton, type SingletonLock } from '../cluster/singleton.js';
import { createWebPushChannel } from './web-push-channel.js';

/** How long a notification waits for the session's screen before going with its last line. */
const SCREEN_TIMEOUT_MS = 1_500;
const SCREEN_LINES = 12;

/**
 * The hub's attention events and approvals (issue 13's session activity work): HubCore gains
 * `onAttention` and `decideApproval` with it. Read structurally so notifications build and run
 * with or without them: without, no event ever comes and no button decides.
 */
interface AttentionHooks {
  onAttention?(listener: (e: ActivityEvent) => void): () => void;
  decideApproval?(caller: Caller, machineId: string, sessionId: string, call: { requestId: string; decision: 'allow' | 'deny'; message: string }, origin: 'telegram' | 'push'): Promise<unknown>;
}

/** The hub's attention events as the notifier's source, and its approvals as the buttons' decide. */
export function attentionOf(core: HubCore): { source: ActivitySource; decide?: DecideApproval } {
  const hooks = core as HubCore & AttentionHooks;
  const source: ActivitySource = { subscribe: (l) => hooks.onAttention?.(l) ?? (() => undefined) };
  if (!hooks.decideApproval) return { source };
  const decideApproval = hooks.decideApproval.bind(core);
  return {
    source,
    async decide(d) {
      // The caller a Telegram sign-in gets (web-layer.ts): the mapped namespace, scope full.
      const caller: Caller = { namespace: d.namespace, owner: false, tokenId: d.who, scope: 'full' };
      await decideApproval(caller, d.machineId, d.sessionId, { requestId: d.requestId, decision: d.allow ? 'allow' : 'deny', message: '' }, d.via);
    },
  };
}

export interface HubNotificationsOptions {
  core: HubCore;
  store: HubStore;
  config: WebConfig;
  log: Logger;
  source: ActivitySource;
  decide?: DecideApproval;
  /** Extra channels (tests, Web Push). */
  channels?: NotificationChannel[];
  /** Notifier overrides (clock, limits, outcomes for benchmarks). */
  notifier?: Partial<NotifierOptions>;
  /**
   * With several hub replicas: the lock that lets one replica at a time poll Telegram (one
   * getUpdates per bot). Undefined: this hub polls (it is alone).
   */
  pollerLock?: SingletonLock;
}

export interface HubNotifications {
  notifier: Notifier;
  close(): Promise<void>;
}

/** Names and the last lines of the screen (the runner's live screen, else its last reported line). */
export async function describeSession(core: HubCore, store: HubStore, e: ActivityEvent): Promise<NotificationContext> {
  const [machine, session] = await Promise.all([store.getMachine(e.machineId), store.getSession(e.machineId, e.sessionId)]);
  const machineName = machine && machine.namespace === e.namespace ? machine.metadata.displayName || machine.metadata.hostname || e.machineId : e.machineId;
  const sessionName = session ? `${basename(session.directory) || session.directory} (${session.agent || 'agent'})` : e.sessionId;
  let screen: string[] = [];
  if (e.state !== 'exited') {
    // Looking is all it does: a read-only caller of the event's own namespace.
    const caller: Caller = { namespace: e.namespace, owner: false, tokenId: 'hub:notifier', scope: 'read-only' };
    try {
      const s = await core.getSessionScreen(caller, e.machineId, e.sessionId, AbortSignal.timeout(SCREEN_TIMEOUT_MS));
      screen = (s.screen?.text ?? '').split('\n').map((l) => l.trimEnd()).filter((l) => l.length > 0).slice(-SCREEN_LINES);
    } catch {
      // Offline runner or too slow: the last line it reported will do.
    }
  }
  if (screen.length === 0 && session) {
    const last = core.sessionActivity(session)?.lastLine;
    if (last) screen = [last];
  }
  return { machineName, sessionName, screen };
}

/**
 * Starts notifications once the hub's VAPID key pair exists (made on its first start and kept
 * in the store; hubs starting together on one database agree on one pair).
 */
export async function startHubNotifications(o: HubNotificationsOptions): Promise<HubNotifications> {
  // Before the Telegram poller starts: nothing is left running when the store cannot answer.
  await o.core.push.vapidKeys();
  const log = o.log.child({ c: 'notify' });
  const channels: NotificationChannel[] = [...(o.channels ?? [])];
  let poller: TelegramPoller | undefined;
  const telegram = o.config.telegram;
  if (telegram?.notify) {
    const api = createTelegramApi({ apiUrl: telegram.apiUrl, botToken: telegram.botToken });
    const channel = createTelegramChannel({ api, users: telegram.users, publicUrl: o.config.publicUrl, decide: o.decide, log });
    channels.push(channel);
    const decide = o.decide;
    if (decide) {
      const start = () => startTelegramPoller({ api, onCallback: channel.onCallback, log });
      poller = o.pollerLock ? runAsSingleton({ lock: o.pollerLock, start, what: 'the Telegram update poller', log }) : start();
    }
    log.info({ users: telegram.users.size, buttons: o.decide !== undefined, open: o.config.publicUrl !== undefined }, 'Telegram notifications enabled');
  }
  const publicUrl = o.config.publicUrl;
  channels.push(
    createWebPushChannel({
      store: o.store,
      vapid: () => o.core.push.vapidKeys(),
      // Push services (Apple's among them) want a way to reach the sender: the hub's https address.
      subject: publicUrl?.startsWith('https://') ? publicUrl : 'mailto:hapi-hub@localhost.invalid',
      log,
    }),
  );
  const notifier = createNotifier({
    source: o.source,
    channels,
    isBeingViewed: (_namespace, machineId, sessionId) => o.core.isSessionViewed(machineId, sessionId),
    // Read when a notification is about to go, not cached: another hub on the same database
    // may have changed them.
    isMuted: (namespace, machineId, sessionId) => o.store.isSessionMuted(namespace, machineId, sessionId),
    notifyOnExit: async (namespace) => (await o.store.getNotifySettings(namespace)).notifyOnExit,
    describe: (e) => describeSession(o.core, o.store, e),
    coalesceMs: o.config.notifyCoalesceMs,
    onError: (err, where) => log.warn({ err, where }, 'a notification was not sent'),
    ...o.notifier,
  });
  return {
    notifier,
    async close() {
      notifier.close();
      await poller?.close();
    },
  };
}
