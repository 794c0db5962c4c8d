/**
 * The page's only way to the hub: same-origin fetches to `/auth/*` and the hub's REST view
 * `/api/v1/*`. The session cookie is HttpOnly and sent by the browser; the CSRF token from the
 * sign-in answer is kept in memory and sent with every state-changing request. Inside another
 * site's iframe (Telegram Web) the browser never sends the SameSite=Strict cookie, so there the
 * hub hands over the session id, which is kept in memory and sent in the X-Hapi-Session header.
 */
import type { DecisionRecord, Machine, Session, SignedIn, SpawnRequest, SpawnResult } from './types.js';

/** A refused request, with the hub's (or runner's) own message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }
}

let csrfToken = '';
let sessionToken = '';

/** Headers that identify this page's sign-in besides the cookie (empty outside an iframe). */
export function sessionHeaders(): Record<string, string> {
  return sessionToken ? { 'X-Hapi-Session': sessionToken } : {};
}

/** Called when any request finds the session gone (401), so the page can show sign-in. */
let onSignedOut: () => void = () => {};

export function setSignedOutHandler(handler: () => void): void {
  onSignedOut = handler;
}

async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...sessionHeaders() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'cannot reach the hub; check your connection', {});
  }
  let data: Record<string, unknown> = {};
  try {
    data = (await res.json()) as Record<string, unknown>;
  } catch {
    // A proxy's HTML error page, or an empty body.
  }
  if (!res.ok) {
    const message = typeof data.error === 'string' && data.error ? data.error : `${res.status} ${res.statusText}`;
    const error = new ApiError(res.status, message, data);
    if (res.status === 401 && !path.startsWith('/auth/')) onSignedOut();
    throw error;
  }
  return data as T;
}

function remember(signedIn: SignedIn): SignedIn {
  csrfToken = signedIn.csrfToken;
  if (signedIn.sessionToken) sessionToken = signedIn.sessionToken;
  return signedIn;
}

/** The current sign-in, or undefined when not signed in. */
export async function currentSession(): Promise<SignedIn | undefined> {
  try {
    return remember(await request<SignedIn>('GET', '/auth/session'));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return undefined;
    throw err;
  }
}

export async function signInWithToken(token: string): Promise<SignedIn> {
  return remember(await request<SignedIn>('POST', '/auth/login', { token }));
}

/** A one-time sign-in link's code (from `#sign-in=<code>`): used up by this call. */
export async function signInWithLink(code: string): Promise<SignedIn> {
  return remember(await request<SignedIn>('POST', '/auth/login', { code }));
}

/**
 * The code of a sign-in link in the URL's fragment, removed from the address bar and history at
 * once (it is used up anyway, and must not be bookmarked or shared from there).
 */
export function takeSignInCode(): string | undefined {
  const m = /(?:^#|&)sign-in=([^&]+)/.exec(location.hash);
  if (!m) return undefined;
  history.replaceState(null, '', location.pathname + location.search);
  return decodeURIComponent(m[1]!);
}

/** `embedded`: the page runs in another site's iframe (Telegram Web) and needs the session header. */
export async function signInWithTelegram(initData: string, embedded: boolean): Promise<SignedIn> {
  return remember(await request<SignedIn>('POST', '/auth/telegram', { initData, embedded }));
}

export async function signOut(): Promise<void> {
  await request('POST', '/auth/logout', {});
  csrfToken = '';
  sessionToken = '';
}

export async function listMachines(): Promise<Machine[]> {
  return (await request<{ machines?: Machine[] }>('GET', '/api/v1/machines')).machines ?? [];
}

export async function listSessions(): Promise<Session[]> {
  return (await request<{ sessions?: Session[] }>('GET', '/api/v1/sessions?includeEnded=true')).sessions ?? [];
}

/** Starts a session; a missing directory without approval comes back as approval-required. */
export async function spawnSession(machineId: string, spec: SpawnRequest): Promise<SpawnResult> {
  try {
    const data = await request<{ session: Session }>('POST', `/api/v1/machines/${encodeURIComponent(machineId)}/sessions`, spec);
    return { kind: 'session', session: data.session };
  } catch (err) {
    if (err instanceof ApiError && err.status === 409 && err.body.requiresUserApproval === true) {
      return { kind: 'approval-required', directory: String(err.body.directory ?? spec.directory) };
    }
    throw err;
  }
}

export async function stopSession(machineId: string, sessionId: string): Promise<string> {
  const path = `/api/v1/machines/${encodeURIComponent(machineId)}/sessions/${encodeURIComponent(sessionId)}/stop`;
  return String((await request<{ result?: string }>('POST', path, {})).result ?? '');
}

/** Answers an agent's approval request; the hub refuses one that is no longer pending (409). */
export async function decideApproval(machineId: string, sessionId: string, requestId: string, decision: 'allow' | 'deny' | 'allow_session', message = ''): Promise<void> {
  const path = `/api/v1/machines/${encodeURIComponent(machineId)}/sessions/${encodeURIComponent(sessionId)}/approvals/${encodeURIComponent(requestId)}`;
  await request('POST', path, { decision, message });
}

/** The session's recorded decisions, oldest first. */
export async function listDecisions(machineId: string, sessionId: string): Promise<DecisionRecord[]> {
  const path = `/api/v1/machines/${encodeURIComponent(machineId)}/sessions/${encodeURIComponent(sessionId)}/approvals`;
  return (await request<{ decisions?: DecisionRecord[] }>('GET', path)).decisions ?? [];
}

export async function stopRunner(machineId: string): Promise<void> {
  await request('POST', `/api/v1/machines/${encodeURIComponent(machineId)}/stop-runner`, {});
}

/** A random id for a spawn's idempotency key (crypto.randomUUID needs a secure context). */
export function newRequestId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The WebSocket URL of a session's terminal (same origin as the page). The cookie goes with the
 * upgrade; inside another site's iframe no cookie does, so the URL carries a one-time ticket
 * (30 s, single use, bound to this sign-in, machine and session) from a CSRF-protected POST.
 */
export async function attachUrl(machineId: string, sessionId: string): Promise<string> {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = `${scheme}//${location.host}/api/v1/machines/${encodeURIComponent(machineId)}/sessions/${encodeURIComponent(sessionId)}/attach`;
  if (!sessionToken) return url;
  const { ticket } = await request<{ ticket?: string }>('POST', '/api/v1/attach-tickets', { machineId, sessionId });
  if (!ticket) throw new ApiError(0, 'the hub gave no attach ticket', {});
  return `${url}?ticket=${encodeURIComponent(ticket)}`;
}

/** The namespace's notification settings (GET /api/v1/notifications/settings). */
export interface NotifySettings {
  notifyOnExit: boolean;
  mutedSessions: { machineId: string; sessionId: string }[];
}

export function getNotifySettings(): Promise<NotifySettings> {
  return request<NotifySettings>('GET', '/api/v1/notifications/settings');
}

export async function muteSession(machineId: string, sessionId: string, muted: boolean): Promise<void> {
  await request('POST', `/api/v1/machines/${encodeURIComponent(machineId)}/sessions/${encodeURIComponent(sessionId)}/mute`, { muted });
}

/** The hub's VAPID public key (base64url), the push subscription's applicationServerKey. */
export async function pushKey(): Promise<string> {
  return String((await request<{ publicKey?: string }>('GET', '/api/v1/push/key')).publicKey ?? '');
}

export async function savePushSubscription(sub: PushSubscriptionJSON): Promise<void> {
  await request('POST', '/api/v1/push/subscriptions', sub);
}

export async function deletePushSubscription(endpoint: string): Promise<void> {
  await request('POST', '/api/v1/push/subscriptions/delete', { endpoint });
}
