/**
 * Telegram as a notification channel: sends each notification to every Telegram user mapped to
 * its namespace (HAPI_TELEGRAM_USERS; a private chat's id is the user's id), and answers the
 * Approve / Deny buttons (callback queries, fed in by telegram-poller.ts).
 *
 * A button's callback data is a random reference into a table held here (Telegram allows 64
 * bytes; machine, session and request ids do not fit), bound to the namespace it was sent to:
 * a user of another namespace pressing it (a forwarded message) is told it is unknown, exactly
 * as for a reference the hub forgot (after a restart). Once decided, every copy of the message
 * is edited to show the outcome and loses its decision buttons.
 */
import { randomBytes } from 'node:crypto';
import { isHapiError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { DecideApproval, Notification, NotificationChannel } from '../domain/notify/activity-event.js';
import type { TelegramApi } from './telegram-api.js';
import { decisionData, escapeHtml, notificationHtml, openButton, parseDecisionData, type InlineButton } from './telegram-format.js';

/** The parts of a Bot API callback_query the hub reads. */
export interface CallbackQuery {
  id: string;
  from: { id: number; username?: string; first_name?: string };
  data?: string;
}

export interface TelegramChannelOptions {
  api: TelegramApi;
  /** Telegram user id -> namespace (HAPI_TELEGRAM_USERS). */
  users: ReadonlyMap<number, string>;
  /** HAPI_HUB_PUBLIC_URL: the Open button; none without it. */
  publicUrl?: string;
  /** Applies a decision; without it no Approve / Deny buttons are shown. */
  decide?: DecideApproval;
  log: Logger;
  /** Most references kept (oldest forgotten first). */
  maxRefs?: number;
}

export interface TelegramChannel extends NotificationChannel {
  /** Handles a button press; always answers the callback query. */
  onCallback(q: CallbackQuery): Promise<void>;
}

interface Ref {
  namespace: string;
  machineId: string;
  sessionId: string;
  requestId: string;
  html: string;
  open: InlineButton[];
  messages: { chatId: number; messageId: number }[];
  /** Set once decided: later presses are answered with it. */
  outcome?: string;
}

interface SentMessage {
  message_id: number;
}

export function createTelegramChannel(o: TelegramChannelOptions): TelegramChannel {
  const refs = new Map<string, Ref>();
  const maxRefs = o.maxRefs ?? 5000;

  function remember(ref: Ref): string {
    const id = randomBytes(12).toString('base64url');
    refs.set(id, ref);
    for (const old of refs.keys()) {
      if (refs.size <= maxRefs) break;
      refs.delete(old);
    }
    return id;
  }

  function recipients(namespace: string): number[] {
    return [...o.users].filter(([, ns]) => ns === namespace).map(([id]) => id);
  }

  async function answer(q: CallbackQuery, text: string): Promise<void> {
    await o.api.call('answerCallbackQuery', { callback_query_id: q.id, text: text.slice(0, 200) }).catch((err: unknown) => {
      o.log.warn({ err }, 'cannot answer a Telegram button press');
    });
  }

  /** Shows the outcome on every copy of the message, keeping only the Open button. */
  async function settleMessages(ref: Ref, outcome: string): Promise<void> {
    const text = `${ref.html}\n\n<b>${escapeHtml(outcome)}</b>`;
    await Promise.all(
      ref.messages.map((m) =>
        o.api
          .call('editMessageText', {
            chat_id: m.chatId,
            message_id: m.messageId,
            text,
            parse_mode: 'HTML',
            reply_markup: { inline_keyboard: ref.open.length ? [ref.open] : [] },
          })
          .catch((err: unknown) => o.log.warn({ err }, 'cannot edit a Telegram notification')),
      ),
    );
  }

  return {
    name: 'telegram',

    async send(n: Notification) {
      const to = recipients(n.namespace);
      if (to.length === 0) return;
      const html = notificationHtml(n);
      const open = openButton(o.publicUrl, n.machineId, n.sessionId);
      const request = n.requests.at(-1);
      const rows: InlineButton[][] = [];
      let ref: Ref | undefined;
      if (request && o.decide && n.state === 'needs_approval') {
        ref = { namespace: n.namespace, machineId: n.machineId, sessionId: n.sessionId, requestId: request.id, html, open, messages: [] };
        const id = remember(ref);
        rows.push([
          { text: 'Approve', callback_data: decisionData(true, id) },
          { text: 'Deny', callback_data: decisionData(false, id) },
        ]);
      }
      if (open.length) rows.push(open);
      const results = await Promise.allSettled(
        to.map((chatId) =>
          o.api.call<SentMessage>('sendMessage', {
            chat_id: chatId,
            text: html,
            parse_mode: 'HTML',
            link_preview_options: { is_disabled: true },
            ...(rows.length ? { reply_markup: { inline_keyboard: rows } } : {}),
          }),
        ),
      );
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') ref?.messages.push({ chatId: to[i]!, messageId: r.value.message_id });
      });
      const failed = results.filter((r) => r.status === 'rejected');
      // One user who blocked the bot must not look like Telegram being down.
      if (failed.length === results.length) throw (failed[0] as PromiseRejectedResult).reason;
      for (const f of failed) o.log.warn({ err: (f as PromiseRejectedResult).reason }, 'a Telegram notification was not delivered');
    },

    async onCallback(q) {
      const namespace = o.users.get(q.from.id);
      const parsed = parseDecisionData(q.data);
      const ref = parsed && refs.get(parsed.ref);
      if (!namespace || !parsed || !ref || ref.namespace !== namespace || !o.decide) {
        await answer(q, 'This request is not known to the hub any more.');
        return;
      }
      if (ref.outcome) {
        await answer(q, ref.outcome);
        return;
      }
      const who = q.from.username ? `@${q.from.username}` : q.from.first_name || String(q.from.id);
      try {
        await o.decide({
          namespace,
          machineId: ref.machineId,
          sessionId: ref.sessionId,
          requestId: ref.requestId,
          allow: parsed.allow,
          who: `telegram:${q.from.id}`,
          via: 'telegram',
        });
        ref.outcome = `${parsed.allow ? '✅ Approved' : '❌ Denied'} by ${who}`;
      } catch (err) {
        // Answered elsewhere, or the session is gone: the message is stale, say so on it.
        if (!isHapiError(err) || (err.kind !== 'FailedPrecondition' && err.kind !== 'NotFound')) {
          o.log.warn({ err }, 'a decision from Telegram failed');
          await answer(q, `Not applied: ${isHapiError(err) ? err.message : 'the hub could not apply it'}`);
          return;
        }
        ref.outcome = 'This request is no longer pending.';
      }
      await answer(q, ref.outcome);
      await settleMessages(ref, ref.outcome);
    },
  };
}
