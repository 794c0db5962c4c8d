/**
 * The hub's one Bot API update poller (getUpdates long polling; the hub needs no public address
 * for a webhook): takes callback queries (the notification buttons) and hands them to the
 * Telegram channel. Failures back off (capped, with jitter; Telegram's retry_after when it gives
 * one). Telegram allows one getUpdates poller per bot and none while a webhook is set: a 409 is
 * logged as such and retried, never "fixed" by deleting someone's webhook.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createBackoff } from '../../shared/backoff.js';
import type { Logger } from '../../shared/logger.js';
import type { TelegramApi } from './telegram-api.js';
import { TelegramApiError } from './telegram-api.js';
import type { CallbackQuery } from './telegram-channel.js';

export interface TelegramPollerOptions {
  api: TelegramApi;
  onCallback(q: CallbackQuery): Promise<void>;
  log: Logger;
  /** Long-poll wait (s); default 25. */
  pollTimeoutS?: number;
}

export interface TelegramPoller {
  /** Stops polling; resolves when the loop has ended and handlers in flight are done. */
  close(): Promise<void>;
}

interface Update {
  update_id: number;
  callback_query?: CallbackQuery;
}

export function startTelegramPoller(o: TelegramPollerOptions): TelegramPoller {
  const ac = new AbortController();
  const backoff = createBackoff({ initialMs: 1_000, maxMs: 60_000, resetAfterMs: 30_000 });
  const inFlight = new Set<Promise<void>>();
  let offset: number | undefined;

  async function loop(): Promise<void> {
    while (!ac.signal.aborted) {
      let updates: Update[];
      try {
        updates = await o.api.call<Update[]>(
          'getUpdates',
          { timeout: o.pollTimeoutS ?? 25, allowed_updates: ['callback_query'], ...(offset !== undefined ? { offset } : {}) },
          ac.signal,
        );
        backoff.succeeded();
      } catch (err) {
        if (ac.signal.aborted) return;
        const delay = err instanceof TelegramApiError && err.retryAfterS ? err.retryAfterS * 1000 : backoff.failed();
        if (err instanceof TelegramApiError && err.code === 409) {
          o.log.warn({ delayMs: delay }, 'Telegram refuses getUpdates: another hub polls this bot, or it has a webhook');
        } else {
          o.log.warn({ err, delayMs: delay }, 'Telegram getUpdates failed; retrying');
        }
        await sleep(delay, undefined, { signal: ac.signal }).catch(() => undefined);
        continue;
      }
      for (const u of updates) {
        // Confirmed by the next call's offset: a crash mid-batch redelivers, never loses.
        offset = Math.max(offset ?? 0, u.update_id + 1);
        if (!u.callback_query) continue;
        const p = o.onCallback(u.callback_query).catch((err: unknown) => o.log.error({ err }, 'a Telegram button press failed'));
        const tracked = p.finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
      }
    }
  }

  const done = loop();
  return {
    async close() {
      ac.abort();
      await done;
      await Promise.allSettled([...inFlight]);
    },
  };
}
