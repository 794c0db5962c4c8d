/**
 * The namespace's notification settings as callers see them (REST, the page): which sessions are
 * muted, whether an exit is worth a notification. Reading needs `list`; changing them needs a
 * full token (`notify-settings`: a read-only token must not silence a team's alerts). A session
 * of another namespace is indistinguishable from a missing one.
 */
import { InvalidArgumentError, NotFoundError } from '../../../shared/errors.js';
import type { SessionStore } from '../ports.js';
import { requireScope } from '../scopes.js';
import type { Caller } from '../types.js';
import type { NamespaceNotifySettings, NotifyStore } from './notify-store.js';

/** What GET /api/v1/notifications/settings answers. */
export interface NotifySettingsView extends NamespaceNotifySettings {
  mutedSessions: { machineId: string; sessionId: string }[];
}

export interface NotifySettings {
  get(caller: Caller): Promise<NotifySettingsView>;
  set(caller: Caller, settings: NamespaceNotifySettings): Promise<NotifySettingsView>;
  /** Mutes or unmutes one session of the caller's namespace. */
  mute(caller: Caller, machineId: string, sessionId: string, muted: boolean): Promise<void>;
}

export function createNotifySettings(o: { store: NotifyStore & Pick<SessionStore, 'getSession'>; now: () => Date }): NotifySettings {
  const view = async (namespace: string): Promise<NotifySettingsView> => {
    const [settings, mutedSessions] = await Promise.all([o.store.getNotifySettings(namespace), o.store.listMutedSessions(namespace)]);
    return { ...settings, mutedSessions };
  };
  return {
    async get(caller) {
      requireScope(caller, 'list');
      return view(caller.namespace);
    },
    async set(caller, settings) {
      requireScope(caller, 'notify-settings');
      await o.store.setNotifySettings(caller.namespace, settings);
      return view(caller.namespace);
    },
    async mute(caller, machineId, sessionId, muted) {
      requireScope(caller, 'notify-settings');
      if (!machineId || !sessionId) throw new InvalidArgumentError('machine id and session id are required');
      const s = await o.store.getSession(machineId, sessionId);
      if (!s || s.namespace !== caller.namespace) throw new NotFoundError(`session ${sessionId} not found on machine ${machineId}`);
      await o.store.setSessionMuted(caller.namespace, machineId, sessionId, muted, o.now());
    },
  };
}
