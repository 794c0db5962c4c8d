/**
 * Configuration of the hub's web page: Telegram sign-in, allowed origins, framing, trusted
 * proxies and where the page is. Part of the one configuration module (config.ts holds the
 * parsers and the other programs' settings); a bad value is a ConfigError naming the variable.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { NAMESPACE_PATTERN } from '../contract/types.js';
import { ConfigError } from './errors.js';
import { envBool, envInt, envOptional, parsePublicUrl, type Env } from './config.js';

export const DEFAULT_TELEGRAM_AUTH_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/**
 * Parses a Telegram user -> namespace mapping: entries `<user id>:<namespace>` separated by
 * commas, whitespace or newlines; `#` starts a comment (files). `source` names the variable
 * or file in error messages.
 */
export function parseTelegramUsers(text: string, source: string): Map<number, string> {
  const users = new Map<number, string>();
  const entries = text.split('\n').map((line) => line.replace(/#.*$/, '')).join(' ').split(/[\s,]+/).filter(Boolean);
  for (const entry of entries) {
    const match = /^(\d{1,16}):(.+)$/.exec(entry);
    if (!match) throw new ConfigError(`${source}: expected <telegram user id>:<namespace>, got ${JSON.stringify(entry)}`);
    const id = Number(match[1]);
    const namespace = match[2]!;
    if (!Number.isSafeInteger(id) || id <= 0) throw new ConfigError(`${source}: bad Telegram user id ${JSON.stringify(match[1])}`);
    if (!NAMESPACE_PATTERN.test(namespace)) throw new ConfigError(`${source}: bad namespace ${JSON.stringify(namespace)}`);
    if (users.has(id) && users.get(id) !== namespace) throw new ConfigError(`${source}: Telegram user ${id} is mapped to two namespaces`);
    users.set(id, namespace);
  }
  return users;
}

/** Telegram sign-in settings of the hub's web page. */
export interface TelegramConfig {
  /** HAPI_TELEGRAM_BOT_TOKEN. */
  botToken: string;
  /** HAPI_TELEGRAM_USERS and/or the file HAPI_TELEGRAM_USERS_FILE: user id -> namespace. */
  users: Map<number, string>;
  /** HAPI_TELEGRAM_AUTH_MAX_AGE_MS: oldest initData accepted (default 24 h). */
  maxAgeMs: number;
  /** HAPI_TELEGRAM_API_URL: the Bot API's base URL (default https://api.telegram.org; tests run their own). */
  apiUrl: string;
  /** HAPI_TELEGRAM_NOTIFY: the bot sends notifications and takes Approve / Deny (default on). */
  notify: boolean;
}

export const DEFAULT_TELEGRAM_API_URL = 'https://api.telegram.org';

/** An http(s) base URL without query or fragment, returned without its trailing slash. */
function baseUrl(env: Env, name: string): string | undefined {
  const text = envOptional(env, name);
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${name}: ${JSON.stringify(text)} is not a URL such as https://hapi.example.com`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username || url.password) {
    throw new ConfigError(`${name}: ${JSON.stringify(text)} must be an http(s) URL without credentials, query or fragment`);
  }
  return url.href.replace(/\/+$/, '');
}

/** Reads the Telegram settings; undefined when HAPI_TELEGRAM_BOT_TOKEN is not set. */
export function telegramConfig(env: Env = process.env): TelegramConfig | undefined {
  const botToken = envOptional(env, 'HAPI_TELEGRAM_BOT_TOKEN');
  const maxAgeMs = envInt(env, 'HAPI_TELEGRAM_AUTH_MAX_AGE_MS', DEFAULT_TELEGRAM_AUTH_MAX_AGE_MS, { min: 1000 });
  const inline = envOptional(env, 'HAPI_TELEGRAM_USERS');
  const file = envOptional(env, 'HAPI_TELEGRAM_USERS_FILE');
  if (botToken === undefined) {
    if (inline !== undefined || file !== undefined) throw new ConfigError('HAPI_TELEGRAM_USERS(_FILE) is set but HAPI_TELEGRAM_BOT_TOKEN is not');
    return undefined;
  }
  if (!/^\d+:[A-Za-z0-9_-]{20,}$/.test(botToken)) {
    throw new ConfigError('HAPI_TELEGRAM_BOT_TOKEN does not look like a bot token (<bot id>:<secret> from @BotFather)');
  }
  const users = inline === undefined ? new Map<number, string>() : parseTelegramUsers(inline, 'HAPI_TELEGRAM_USERS');
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`HAPI_TELEGRAM_USERS_FILE: cannot read ${file}: ${(err as Error).message}`);
    }
    for (const [id, namespace] of parseTelegramUsers(text, file)) {
      if (users.has(id) && users.get(id) !== namespace) {
        throw new ConfigError(`Telegram user ${id} is mapped to two namespaces (HAPI_TELEGRAM_USERS and ${file})`);
      }
      users.set(id, namespace);
    }
  }
  const apiUrl = baseUrl(env, 'HAPI_TELEGRAM_API_URL') ?? DEFAULT_TELEGRAM_API_URL;
  return { botToken, users, maxAgeMs, apiUrl, notify: envBool(env, 'HAPI_TELEGRAM_NOTIFY', true) };
}

function originList(env: Env, name: string): string[] {
  const bad = (text: string) => new ConfigError(`${name}: ${JSON.stringify(text)} is not an origin such as https://hapi.example.com`);
  return (envOptional(env, name) ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((text) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw bad(text);
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search || url.hash) throw bad(text);
    return url.origin;
  });
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

/**
 * Parses HAPI_WEB_TRUSTED_PROXIES: addresses or CIDR ranges (`127.0.0.1`, `10.0.0.0/8`,
 * `::1`), separated by commas or spaces, of the reverse proxies whose X-Forwarded-For the web
 * page believes. Unset: none (the connection's peer is the client).
 */
export function trustedProxies(env: Env): string[] {
  const name = 'HAPI_WEB_TRUSTED_PROXIES';
  return (envOptional(env, name) ?? '').split(/[\s,]+/).filter(Boolean).map((entry) => {
    const [address, prefix, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const max = family === 6 ? 128 : 32;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= max);
    if (family === 0 || !prefixOk || extra !== undefined) {
      throw new ConfigError(`${name}: ${JSON.stringify(entry)} is not an IP address or CIDR range such as 10.0.0.0/8`);
    }
    return entry;
  });
}

/** Settings of the hub's web page (read before the hub listens, so a bad one stops the start). */
export interface WebConfig {
  /** Telegram Mini App sign-in; off when HAPI_TELEGRAM_BOT_TOKEN is not set. */
  telegram?: TelegramConfig;
  /** HAPI_WEB_ORIGINS: origins allowed to change state behind a proxy that rewrites Host. */
  allowedOrigins: string[];
  /** HAPI_WEB_FRAME_ANCESTORS: origins allowed to show the page in an iframe. */
  frameAncestors: string[];
  /** HAPI_WEB_ROOT: where the built page is; undefined: dist/web next to the CLI bundle. */
  webRoot?: string;
  /** HAPI_WEB_TRUSTED_PROXIES: proxies whose X-Forwarded-For names the client (sign-in rate limits). */
  trustedProxies: string[];
  /** HAPI_HUB_PUBLIC_URL: where people reach the page (links in notifications, the Mini App). */
  publicUrl?: string;
  /** HAPI_NOTIFY_COALESCE_MS: changes of a session within this window make one notification. */
  notifyCoalesceMs: number;
}

/** Default HAPI_NOTIFY_COALESCE_MS. */
export const DEFAULT_NOTIFY_COALESCE_MS = 2_000;

export function webConfig(env: Env = process.env): WebConfig {
  const telegram = telegramConfig(env);
  return {
    telegram,
    allowedOrigins: webOrigins(env),
    frameAncestors: frameAncestors(env, telegram !== undefined),
    webRoot: envOptional(env, 'HAPI_WEB_ROOT'),
    trustedProxies: trustedProxies(env),
    // One reading of the variable for the whole hub (config.ts: an http(s) origin).
    publicUrl: parsePublicUrl(env.HAPI_HUB_PUBLIC_URL),
    notifyCoalesceMs: envInt(env, 'HAPI_NOTIFY_COALESCE_MS', DEFAULT_NOTIFY_COALESCE_MS, { min: 0, max: 600_000 }),
  };
}
