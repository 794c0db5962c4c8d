/**
 * A small Telegram Bot API client on node's fetch (https://core.telegram.org/bots/api): POST
 * `<apiUrl>/bot<token>/<method>` with a JSON body, answered `{ok, result}` or
 * `{ok: false, error_code, description, parameters: {retry_after}}`. The base URL is
 * HAPI_TELEGRAM_API_URL, so tests talk to a server of their own. The token is part of the URL:
 * it never appears in an error message or a log line.
 */

/** A Bot API call that Telegram (or the network) refused. */
export class TelegramApiError extends Error {
  constructor(
    readonly method: string,
    /** Telegram's error_code (an HTTP status), or 0 for a network failure. */
    readonly code: number,
    description: string,
    /** Seconds Telegram asks to wait (429). */
    readonly retryAfterS?: number,
  ) {
    super(`Telegram ${method}: ${description}`);
    this.name = 'TelegramApiError';
  }
}

export interface TelegramApi {
  /** Calls `method`; resolves with its `result`. */
  call<T = unknown>(method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<T>;
}

export interface TelegramApiOptions {
  apiUrl: string;
  botToken: string;
  /** Per-call timeout besides the long poll's own (ms); default 15 s. */
  timeoutMs?: number;
}

export function createTelegramApi(o: TelegramApiOptions): TelegramApi {
  const base = `${o.apiUrl.replace(/\/+$/, '')}/bot${o.botToken}/`;
  return {
    async call<T>(method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
      // A long poll waits `timeout` seconds by design: allow for it on top of the call timeout.
      const waitS = typeof params.timeout === 'number' ? params.timeout : 0;
      const timeout = AbortSignal.timeout((o.timeoutMs ?? 15_000) + waitS * 1000);
      let res: Response;
      try {
        res = await fetch(base + method, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(params),
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (err) {
        // fetch's message may carry the URL, and with it the token: say what, not where.
        const what = (err as Error).name === 'TimeoutError' ? 'timed out' : (err as Error).name === 'AbortError' ? 'aborted' : 'cannot reach the Bot API';
        throw new TelegramApiError(method, 0, what);
      }
      let body: { ok?: boolean; result?: T; error_code?: number; description?: string; parameters?: { retry_after?: number } };
      try {
        body = (await res.json()) as typeof body;
      } catch {
        throw new TelegramApiError(method, res.status, `answered HTTP ${res.status} without JSON`);
      }
      if (!body.ok) {
        throw new TelegramApiError(method, body.error_code ?? res.status, body.description ?? `HTTP ${res.status}`, body.parameters?.retry_after);
      }
      return body.result as T;
    },
  };
}
