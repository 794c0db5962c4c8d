/**
 * Notifications on this device (Web Push through the page's service worker, /sw.js) and
 * per-session mutes. The service worker shows what the hub pushes and posts Approve / Deny back
 * with the request id; this module only registers it and manages the subscription.
 */
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { ApiError, deletePushSubscription, getNotifySettings, muteSession, pushKey, savePushSubscription } from './api.js';

type PushState = 'unsupported' | 'off' | 'on' | 'blocked' | 'busy';

function pushSupported(): boolean {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window && window.isSecureContext;
}

function keyBytes(base64url: string): ArrayBuffer {
  const b64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
}

async function currentSubscription(): Promise<PushSubscription | null> {
  const reg = await navigator.serviceWorker.getRegistration('/');
  return (await reg?.pushManager.getSubscription()) ?? null;
}

/** The topbar's "Notify me" switch for this device. */
export function PushToggle() {
  const [state, setState] = useState<PushState>(pushSupported() ? 'busy' : 'unsupported');
  const [error, setError] = useState('');
  useEffect(() => {
    if (!pushSupported()) return;
    if (Notification.permission === 'denied') return setState('blocked');
    currentSubscription().then((s) => setState(s ? 'on' : 'off'), () => setState('off'));
  }, []);
  if (state === 'unsupported') return null;

  const enable = async () => {
    setState('busy');
    setError('');
    try {
      if ((await Notification.requestPermission()) !== 'granted') return setState('blocked');
      const reg = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
      await navigator.serviceWorker.ready;
      const sub = (await reg.pushManager.getSubscription()) ?? (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(await pushKey()) }));
      await savePushSubscription(sub.toJSON());
      setState('on');
    } catch (err) {
      setError(err instanceof ApiError || err instanceof Error ? err.message : String(err));
      setState('off');
    }
  };
  const disable = async () => {
    setState('busy');
    try {
      const sub = await currentSubscription();
      if (sub) {
        await deletePushSubscription(sub.endpoint).catch(() => undefined);
        await sub.unsubscribe();
      }
    } finally {
      setState('off');
    }
  };
  return (
    <button
      type="button"
      class="link push-toggle"
      data-push={state}
      disabled={state === 'busy' || state === 'blocked'}
      title={error || (state === 'blocked' ? 'Notifications are blocked for this site in the browser settings' : 'Notifications on this device')}
      onClick={state === 'on' ? disable : enable}
    >
      {state === 'on' ? 'Notifications on' : state === 'blocked' ? 'Notifications blocked' : 'Notify me'}
    </button>
  );
}

/** Muted sessions of the namespace, shared by the session rows. */
export interface Mutes {
  isMuted(machineId: string, sessionId: string): boolean;
  set(machineId: string, sessionId: string, muted: boolean): Promise<void>;
  /** False for read-only sign-ins (the hub refuses them). */
  canChange: boolean;
}

export const MutesContext = createContext<Mutes | undefined>(undefined);

export function useMutes(canChange: boolean): Mutes {
  const [muted, setMuted] = useState<Set<string>>(new Set());
  const key = (m: string, s: string) => `${m}/${s}`;
  useEffect(() => {
    getNotifySettings().then((st) => setMuted(new Set(st.mutedSessions.map((x) => key(x.machineId, x.sessionId)))), () => undefined);
  }, []);
  return {
    canChange,
    isMuted: (m, s) => muted.has(key(m, s)),
    async set(m, s, on) {
      await muteSession(m, s, on);
      setMuted((prev) => {
        const next = new Set(prev);
        if (on) next.add(key(m, s));
        else next.delete(key(m, s));
        return next;
      });
    },
  };
}

/** Mute / Unmute one session's notifications. */
export function MuteButton(props: { machineId: string; sessionId: string }) {
  const mutes = useContext(MutesContext);
  const [busy, setBusy] = useState(false);
  if (!mutes?.canChange) return null;
  const muted = mutes.isMuted(props.machineId, props.sessionId);
  return (
    <button
      type="button"
      class="mute"
      aria-pressed={muted}
      disabled={busy}
      onClick={() => {
        setBusy(true);
        mutes.set(props.machineId, props.sessionId, !muted).finally(() => setBusy(false));
      }}
    >
      {muted ? 'Unmute' : 'Mute'}
    </button>
  );
}
