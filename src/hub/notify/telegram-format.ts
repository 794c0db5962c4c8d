/**
 * What a Telegram notification looks like: HTML text (parse_mode HTML, everything from a
 * session escaped) naming the session and the machine, what it asks, and the last lines of its
 * screen; and its inline keyboard (Approve / Deny for the newest request, Open for the Mini App
 * on that session). Pure functions.
 */
import type { Notification } from '../domain/notify/activity-event.js';

/** Telegram's limit is 4096 characters after entity parsing; stay well under it. */
const MAX_SCREEN_CHARS = 2000;
const MAX_SCREEN_LINES = 12;
const MAX_FIELD_CHARS = 300;

/** Escapes text for parse_mode HTML (the three characters Telegram requires). */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

const HEADLINE: Record<Notification['state'], string> = {
  needs_approval: '⚠️ Needs your approval',
  waiting_for_input: '💬 Waiting for your input',
  working: '⚙️ Working',
  exited: '⏹ Exited',
};

/** The message text (HTML). */
export function notificationHtml(n: Notification): string {
  const lines = [`<b>${HEADLINE[n.state]}</b>${n.guess ? ' <i>(a guess from the terminal)</i>' : ''}`];
  lines.push(`<b>${escapeHtml(clip(n.sessionName, 120))}</b> on <b>${escapeHtml(clip(n.machineName, 120))}</b>`);
  for (const r of n.requests.slice(-3)) {
    const what = r.command || r.file || r.description;
    lines.push(`${escapeHtml(clip(r.tool || 'request', 60))}: <code>${escapeHtml(clip(what, MAX_FIELD_CHARS))}</code>`);
  }
  if (n.message) lines.push(escapeHtml(clip(n.message, MAX_FIELD_CHARS)));
  const screen = n.screen.slice(-MAX_SCREEN_LINES).join('\n').slice(-MAX_SCREEN_CHARS).trimEnd();
  if (screen) lines.push(`<pre>${escapeHtml(screen)}</pre>`);
  return lines.join('\n');
}

/** The page on one session: the terminal route of the page (web/src/route.ts). */
export function sessionUrl(publicUrl: string, machineId: string, sessionId: string): string {
  return `${publicUrl}/?open=${encodeURIComponent(`${machineId}/${sessionId}`)}`;
}

export interface InlineButton {
  text: string;
  callback_data?: string;
  web_app?: { url: string };
  url?: string;
}

/** The Open button: the Mini App on that session (web_app buttons need an https URL; else a plain link). */
export function openButton(publicUrl: string | undefined, machineId: string, sessionId: string): InlineButton[] {
  if (!publicUrl) return [];
  const url = sessionUrl(publicUrl, machineId, sessionId);
  return [url.startsWith('https://') ? { text: 'Open', web_app: { url } } : { text: 'Open', url }];
}

/** Callback data of a decision button: `a:<ref>` (approve) or `d:<ref>` (deny); 64 bytes at most. */
export function decisionData(allow: boolean, ref: string): string {
  return `${allow ? 'a' : 'd'}:${ref}`;
}

export function parseDecisionData(data: string | undefined): { allow: boolean; ref: string } | undefined {
  const m = /^([ad]):([A-Za-z0-9_-]{1,40})$/.exec(data ?? '');
  return m ? { allow: m[1] === 'a', ref: m[2]! } : undefined;
}
