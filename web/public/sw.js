// The page's service worker: makes the page installable and shows the hub's Web Push
// notifications (payload: src/hub/notify/web-push-channel.ts, PushPayload). Approve / Deny post
// the decision for the request id the push carried, with this browser's sign-in (cookie and its
// CSRF token from /auth/session), to the hub's approvals route; the hub checks scope and
// namespace as for any page request (a read-only sign-in is refused). Anything else opens the
// page on that session. Plain JavaScript, served as it is (no build step, same origin: the CSP's
// script-src 'self' and worker-src 'self' allow it).
'use strict';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
// A fetch handler is what browsers look for to offer installing the page; the network decides.
self.addEventListener('fetch', () => {});

self.addEventListener('push', (event) => {
  let p;
  try {
    p = event.data ? event.data.json() : undefined;
  } catch {
    p = undefined;
  }
  if (!p || p.v !== 1) return;
  event.waitUntil(
    self.registration.showNotification(p.title, {
      body: p.body,
      tag: p.tag,
      renotify: true,
      requireInteraction: p.state === 'needs_approval',
      icon: '/icon-192.png',
      badge: '/icon-192.png',
      actions: Array.isArray(p.actions) ? p.actions : [],
      data: { machineId: p.machineId, sessionId: p.sessionId, requestId: p.requestId, tag: p.tag },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  const d = event.notification.data || {};
  event.notification.close();
  if ((event.action === 'approve' || event.action === 'deny') && d.requestId) {
    event.waitUntil(decide(d, event.action === 'approve' ? 'allow' : 'deny'));
  } else {
    event.waitUntil(openSession(d));
  }
});

const enc = encodeURIComponent;

async function decide(d, decision) {
  let status = 0;
  let error = '';
  try {
    const session = await fetch('/auth/session', { credentials: 'same-origin', cache: 'no-store' });
    if (!session.ok) return openSession(d);
    const { csrfToken } = await session.json();
    const res = await fetch(`/api/v1/machines/${enc(d.machineId)}/sessions/${enc(d.sessionId)}/approvals/${enc(d.requestId)}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken || '' },
      body: JSON.stringify({ decision, origin: 'push' }),
    });
    status = res.status;
    if (!res.ok) error = (await res.json().catch(() => ({}))).error || `HTTP ${res.status}`;
  } catch {
    error = 'cannot reach the hub';
  }
  if (status >= 200 && status < 300) {
    return self.registration.showNotification(decision === 'allow' ? 'Approved' : 'Denied', { tag: d.tag, body: '', data: d });
  }
  return self.registration.showNotification('Not applied', { tag: d.tag, body: error, data: { ...d, requestId: undefined } });
}

async function openSession(d) {
  const url = d.machineId && d.sessionId ? `/?open=${enc(`${d.machineId}/${d.sessionId}`)}` : '/';
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const w of windows) {
    if (new URL(w.url).origin !== self.location.origin) continue;
    await w.navigate(url).catch(() => undefined);
    return w.focus();
  }
  return self.clients.openWindow(url);
}
