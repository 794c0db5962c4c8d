/**
 * The hub's web page, ready to mount: `startHub({ ..., wrapHttpHandler: webPage({ env, log }) })`.
 * Settings are read (and a bad one refused with a ConfigError) when webPage() is called, before
 * the hub starts listening.
 *
 * Environment:
 *   HAPI_TELEGRAM_BOT_TOKEN        bot token from @BotFather; Telegram sign-in is off without it
 *   HAPI_TELEGRAM_USERS            Telegram user id -> namespace, e.g. "12345:default,678:teamb"
 *   HAPI_TELEGRAM_USERS_FILE       the same mapping in a file, one `<id>:<namespace>` per line, # comments
 *   HAPI_TELEGRAM_AUTH_MAX_AGE_MS  oldest Telegram sign-in data accepted (default 86400000 = 24 h)
 *   HAPI_WEB_ORIGINS               origins allowed to change state when the hub sits behind a proxy
 *                                  that rewrites Host, e.g. "https://hapi.example.com" (default: the
 *                                  request's own Host)
 *   HAPI_WEB_FRAME_ANCESTORS       origins allowed to show the page in an iframe (default: none, or
 *                                  https://web.telegram.org when Telegram sign-in is on)
 *   HAPI_WEB_ROOT                  where the built page is (default: dist/web next to the CLI bundle)
 */
import { envOptional, type Env } from '../../shared/config.js';
import { ConfigError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { StartHubOptions } from '../server.js';
import { telegramConfig } from './telegram.js';
import { createWebLayer } from './web-layer.js';
import { tablePersistence } from './web-sessions.js';

export interface WebPageOptions {
  env?: Env;
  log?: Logger;
}

/** Parses HAPI_WEB_ORIGINS: comma-separated origins (scheme://host[:port]). */
export function webOrigins(env: Env): string[] {
  return originList(env, 'HAPI_WEB_ORIGINS');
}

/** Telegram Web opens Mini Apps in an iframe on this origin. */
export const TELEGRAM_WEB_ORIGIN = 'https://web.telegram.org';

/** Parses HAPI_WEB_FRAME_ANCESTORS; unset: Telegram Web when Telegram sign-in is on, else none. */
export function frameAncestors(env: Env, telegramEnabled: boolean): string[] {
  // Set, even to empty (no framing at all), it replaces the default.
  if (env.HAPI_WEB_FRAME_ANCESTORS !== undefined) return originList(env, 'HAPI_WEB_FRAME_ANCESTORS');
  return telegramEnabled ? [TELEGRAM_WEB_ORIGIN] : [];
}

function originList(env: Env, name: string): string[] {
  const raw = envOptional(env, name);
  if (raw === undefined) return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((text) => {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        throw new ConfigError(`${name}: ${JSON.stringify(text)} is not an origin such as https://hapi.example.com`);
      }
      if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search || url.hash) {
        throw new ConfigError(`${name}: ${JSON.stringify(text)} is not an origin such as https://hapi.example.com`);
      }
      return url.origin;
    });
}

/**
 * The `wrapHttpHandler` of startHub: the web page, sign-in and cookie sessions in front of the
 * hub's REST view. The REST handler startHub built is mounted under `/api/` as it is: a bearer
 * request reaches it unchanged, a cookie session's request arrives with its caller.
 */
export function webPage(opts: WebPageOptions = {}): NonNullable<StartHubOptions['wrapHttpHandler']> {
  const env = opts.env ?? process.env;
  const telegram = telegramConfig(env);
  const allowedOrigins = webOrigins(env);
  const framers = frameAncestors(env, telegram !== undefined);
  const log = opts.log?.child({ c: 'web' });
  if (telegram) log?.info({ users: telegram.users.size, maxAgeMs: telegram.maxAgeMs }, 'Telegram sign-in enabled');
  return (rest, core, store) => {
    const web = createWebLayer({
      verifyToken: (token) => core.authenticate(token),
      verifyTokenId: (tokenId) => core.authenticateTokenId(tokenId),
      // Sign-ins live in the hub database: a hub restart signs nobody out.
      sessions: { persistence: tablePersistence(store) },
      telegram,
      allowedOrigins,
      frameAncestors: framers,
      webRoot: envOptional(env, 'HAPI_WEB_ROOT'),
      logger: log,
    });
    return web.handler(rest);
  };
}
