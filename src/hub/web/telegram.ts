/**
 * Telegram Mini App sign-in: verifies the `initData` string Telegram hands a Mini App, with the
 * HMAC-SHA256 scheme Telegram documents
 * (https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app):
 *
 *   secret_key       = HMAC_SHA256(key = "WebAppData", msg = bot_token)
 *   data_check_string = every received field except `hash`, as `key=value`, sorted by key, joined by "\n"
 *   hash             = hex(HMAC_SHA256(key = secret_key, msg = data_check_string))
 *
 * The settings (bot token, user -> namespace mapping) are read by telegramConfig() in
 * src/shared/config.ts. Nothing here talks to Telegram.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { UnauthenticatedError } from '../../shared/errors.js';
/** How far in the future auth_date may be (clock skew between Telegram and the hub). */
const MAX_CLOCK_SKEW_S = 60;

export interface TelegramUser {
  id: number;
  firstName?: string;
  lastName?: string;
  username?: string;
}

export interface VerifiedInitData {
  user: TelegramUser;
  /** When Telegram issued the data. */
  authDate: Date;
}

export interface VerifyOptions {
  /** Reject data issued longer ago than this. */
  maxAgeMs: number;
  /** Injectable clock (ms since the epoch). */
  now?: number;
}

/** secret_key of the scheme; derived once per bot token. */
export function telegramSecretKey(botToken: string): Buffer {
  return createHmac('sha256', 'WebAppData').update(botToken).digest();
}

/** The data_check_string of an initData query string (every field but `hash`, sorted). */
export function dataCheckString(params: URLSearchParams): string {
  return [...params.entries()]
    .filter(([key]) => key !== 'hash')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('\n');
}

/**
 * Signs fields the way Telegram does and returns the initData query string. Used by tests and
 * by anyone who wants to check a deployment without a phone; the hub itself only verifies.
 */
export function signInitData(fields: Record<string, string>, botToken: string): string {
  const params = new URLSearchParams(fields);
  params.delete('hash');
  const hash = createHmac('sha256', telegramSecretKey(botToken)).update(dataCheckString(params)).digest('hex');
  params.set('hash', hash);
  return params.toString();
}

/**
 * Verifies initData and returns the Telegram user. Throws UnauthenticatedError (with a
 * message fit for the person signing in, never the expected hash) when the hash does not
 * match, a field is missing or duplicated, or the data is too old.
 */
export function verifyInitData(initData: string, botToken: string, opts: VerifyOptions): VerifiedInitData {
  if (typeof initData !== 'string' || initData.length === 0 || initData.length > 8192) {
    throw new UnauthenticatedError('Telegram sign-in data is missing');
  }
  const params = new URLSearchParams(initData);
  const keys = [...params.keys()];
  if (new Set(keys).size !== keys.length) throw new UnauthenticatedError('Telegram sign-in data is malformed');
  const hash = params.get('hash') ?? '';
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new UnauthenticatedError('Telegram sign-in data is not signed');

  const expected = createHmac('sha256', telegramSecretKey(botToken)).update(dataCheckString(params)).digest();
  if (!timingSafeEqual(expected, Buffer.from(hash, 'hex'))) {
    throw new UnauthenticatedError('Telegram sign-in data has a bad signature');
  }

  const authDateS = Number(params.get('auth_date'));
  if (!Number.isSafeInteger(authDateS) || authDateS <= 0) throw new UnauthenticatedError('Telegram sign-in data has no auth_date');
  const nowS = (opts.now ?? Date.now()) / 1000;
  if (authDateS > nowS + MAX_CLOCK_SKEW_S) throw new UnauthenticatedError('Telegram sign-in data is dated in the future');
  if (nowS - authDateS > opts.maxAgeMs / 1000) {
    throw new UnauthenticatedError('Telegram sign-in data has expired; reopen the app from Telegram');
  }

  let raw: unknown;
  try {
    raw = JSON.parse(params.get('user') ?? '');
  } catch {
    throw new UnauthenticatedError('Telegram sign-in data has no user');
  }
  const user = raw as { id?: unknown; first_name?: unknown; last_name?: unknown; username?: unknown };
  if (typeof user !== 'object' || user === null || !Number.isSafeInteger(user.id)) {
    throw new UnauthenticatedError('Telegram sign-in data has no user');
  }
  return {
    user: {
      id: user.id as number,
      firstName: typeof user.first_name === 'string' ? user.first_name : undefined,
      lastName: typeof user.last_name === 'string' ? user.last_name : undefined,
      username: typeof user.username === 'string' ? user.username : undefined,
    },
    authDate: new Date(authDateS * 1000),
  };
}
