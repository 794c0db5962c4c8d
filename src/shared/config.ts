/**
 * Configuration from environment variables. Every variable is parsed here, with its default,
 * and a bad value is a ConfigError that names the variable and what it expected. Sections are
 * parsed lazily so that, e.g., a bad hub setting does not break `hapi runner status`.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError } from './errors.js';

export type Env = Record<string, string | undefined>;

export interface IntOptions {
  min?: number;
  max?: number;
}

/** Parses an integer variable; empty or unset gives the default. */
export function envInt(env: Env, name: string, fallback: number, opts: IntOptions = {}): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const text = raw.trim();
  if (!/^-?\d+$/.test(text)) {
    throw new ConfigError(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new ConfigError(`${name} is out of range: ${raw}`);
  if (opts.min !== undefined && value < opts.min) throw new ConfigError(`${name} must be at least ${opts.min}, got ${value}`);
  if (opts.max !== undefined && value > opts.max) throw new ConfigError(`${name} must be at most ${opts.max}, got ${value}`);
  return value;
}

/** Parses a boolean variable: 1/true/yes/on or 0/false/no/off. */
export function envBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const text = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off'].includes(text)) return false;
  throw new ConfigError(`${name} must be a boolean (true/false), got ${JSON.stringify(raw)}`);
}

export function envString(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? fallback : raw.trim();
}

export function envOptional(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function logLevel(env: Env): LogLevel {
  const level = envString(env, 'HAPI_LOG_LEVEL', 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`HAPI_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
  }
  return level as LogLevel;
}

/** Settings every client of the runner needs (the CLI, session processes). */
export interface ClientConfig {
  /** HAPI_RUNNER_HTTP_TIMEOUT: how long a control call may take (ms). */
  httpTimeoutMs: number;
}

export function clientConfig(env: Env = process.env): ClientConfig {
  return { httpTimeoutMs: envInt(env, 'HAPI_RUNNER_HTTP_TIMEOUT', 10_000, { min: 1, max: 600_000 }) };
}

/** HAPI_RUNNER_WEBHOOK_TIMEOUT_MS: how long a spawned session has to report itself (ms). */
function sessionReportTimeoutMs(env: Env): number {
  return envInt(env, 'HAPI_RUNNER_WEBHOOK_TIMEOUT_MS', 15_000, { min: 100, max: 600_000 });
}

/** Settings of a session process (`hapi` in a terminal, or spawned by the runner). */
export interface SessionConfig {
  /** HAPI_RUNNER_WEBHOOK_TIMEOUT_MS: how long the session keeps trying to report itself. */
  reportTimeoutMs: number;
  /**
   * HAPI_SESSION_REPORT_RETRY_MS: how often a terminal session that no runner knows yet looks
   * for one (a stat of the socket path; a call only once it exists).
   */
  lateReportIntervalMs: number;
}

export function sessionConfig(env: Env = process.env): SessionConfig {
  return {
    reportTimeoutMs: sessionReportTimeoutMs(env),
    lateReportIntervalMs: envInt(env, 'HAPI_SESSION_REPORT_RETRY_MS', 10_000, { min: 100, max: 3_600_000 }),
  };
}

export const HEARTBEAT_SANE_MIN_MS = 10_000;
export const HEARTBEAT_SANE_MAX_MS = 300_000;

/** Settings of the runner daemon. */
export interface RunnerConfig extends ClientConfig {
  /** HAPI_RUNNER_HEARTBEAT_INTERVAL (ms). Outside 10 s..5 min only warns. */
  heartbeatIntervalMs: number;
  /** Warnings to log at start (e.g. an unusual heartbeat interval). */
  warnings: string[];
  /** HAPI_RUNNER_WEBHOOK_TIMEOUT_MS: how long a spawned session has to report itself. */
  sessionReportTimeoutMs: number;
  /** HAPI_RUNNER_MAX_SESSIONS. */
  maxSessions: number;
  /** HAPI_SESSION_STOP_GRACE_MS: SIGTERM -> SIGKILL grace when stopping a session. */
  sessionStopGraceMs: number;
  /** HAPI_RUNNER_LOG_KEEP: how many runner log files to keep. */
  logKeep: number;
  logLevel: LogLevel;
}

export function runnerConfig(env: Env = process.env): RunnerConfig {
  const heartbeatIntervalMs = envInt(env, 'HAPI_RUNNER_HEARTBEAT_INTERVAL', 60_000, { min: 100, max: 86_400_000 });
  const warnings: string[] = [];
  if (heartbeatIntervalMs < HEARTBEAT_SANE_MIN_MS) {
    warnings.push(`HAPI_RUNNER_HEARTBEAT_INTERVAL=${heartbeatIntervalMs} is below 10000 ms; this may cost performance`);
  } else if (heartbeatIntervalMs > HEARTBEAT_SANE_MAX_MS) {
    warnings.push(`HAPI_RUNNER_HEARTBEAT_INTERVAL=${heartbeatIntervalMs} is above 300000 ms; version detection and session cleanup will lag`);
  }
  return {
    ...clientConfig(env),
    heartbeatIntervalMs,
    warnings,
    sessionReportTimeoutMs: sessionReportTimeoutMs(env),
    maxSessions: envInt(env, 'HAPI_RUNNER_MAX_SESSIONS', 64, { min: 1, max: 100_000 }),
    sessionStopGraceMs: envInt(env, 'HAPI_SESSION_STOP_GRACE_MS', 5_000, { min: 0, max: 600_000 }),
    logKeep: envInt(env, 'HAPI_RUNNER_LOG_KEEP', 10, { min: 1, max: 1000 }),
    logLevel: logLevel(env),
  };
}

export const DEFAULT_HUB_GRPC_PORT = 3737;
export const DEFAULT_HUB_HTTP_PORT = 3738;

/** Where the runner's hub link points and with which token. */
export interface HubLinkConfig {
  /** HAPI_API_URL, e.g. http://127.0.0.1:3737 (https:// for TLS). */
  apiUrl: string;
  /** CLI_API_TOKEN; undefined falls back to the token saved by `hapi auth login`. */
  token?: string;
}

export function hubLinkConfig(env: Env = process.env): HubLinkConfig {
  const apiUrl = envString(env, 'HAPI_API_URL', `http://127.0.0.1:${DEFAULT_HUB_GRPC_PORT}`);
  parseHubUrl(apiUrl);
  return { apiUrl, token: envOptional(env, 'CLI_API_TOKEN') };
}

export interface HubAddress {
  host: string;
  port: number;
  tls: boolean;
  /** host:port, as grpc-js expects it. */
  target: string;
}

/** Parses HAPI_API_URL: http(s)://host[:port] or a bare host:port. */
export function parseHubUrl(url: string): HubAddress {
  const withScheme = /^[a-z]+:\/\//i.test(url) ? url : `http://${url}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    throw new ConfigError(`HAPI_API_URL is not a valid URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError(`HAPI_API_URL must use http:// or https://, got ${parsed.protocol}`);
  }
  const tls = parsed.protocol === 'https:';
  const port = parsed.port ? Number(parsed.port) : tls ? 443 : DEFAULT_HUB_GRPC_PORT;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return { host, port, tls, target };
}

/** Settings of the hub server. */
export interface HubConfig {
  host: string;
  grpcPort: number;
  httpPort: number;
  tlsCert?: string;
  tlsKey?: string;
  /** HAPI_HUB_DB; defaults to $HAPI_HOME/hub.db. */
  dbPath?: string;
  /** Machine goes offline after this long without an alive message. */
  aliveTimeoutMs: number;
  /** Deadline of relayed spawns; longer than the runner's report timeout. */
  spawnDeadlineMs: number;
  /** Deadline of other relayed RPCs. */
  rpcDeadlineMs: number;
  logLevel: LogLevel;
}

export function hubConfig(env: Env = process.env): HubConfig {
  const tlsCert = envOptional(env, 'HAPI_HUB_TLS_CERT');
  const tlsKey = envOptional(env, 'HAPI_HUB_TLS_KEY');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError('HAPI_HUB_TLS_CERT and HAPI_HUB_TLS_KEY must be set together');
  }
  const reportTimeout = sessionReportTimeoutMs(env);
  return {
    host: envString(env, 'HAPI_HUB_HOST', '127.0.0.1'),
    grpcPort: envInt(env, 'HAPI_HUB_GRPC_PORT', DEFAULT_HUB_GRPC_PORT, { min: 0, max: 65535 }),
    httpPort: envInt(env, 'HAPI_HUB_HTTP_PORT', DEFAULT_HUB_HTTP_PORT, { min: 0, max: 65535 }),
    tlsCert,
    tlsKey,
    dbPath: envOptional(env, 'HAPI_HUB_DB'),
    aliveTimeoutMs: envInt(env, 'HAPI_HUB_ALIVE_TIMEOUT_MS', 45_000, { min: 100 }),
    spawnDeadlineMs: envInt(env, 'HAPI_HUB_SPAWN_DEADLINE_MS', reportTimeout + 15_000, { min: 100 }),
    rpcDeadlineMs: envInt(env, 'HAPI_HUB_RPC_DEADLINE_MS', 15_000, { min: 100 }),
    logLevel: logLevel(env),
  };
}

// ---- the hub's web page: Telegram sign-in, origins, framing, where the page is ----

/** Namespaces as the hub's TokenService accepts them. */
const NAMESPACE_RE = /^[a-z0-9][a-z0-9-_]{0,62}$/;

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
    if (!NAMESPACE_RE.test(namespace)) throw new ConfigError(`${source}: bad namespace ${JSON.stringify(namespace)}`);
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
  return { botToken, users, maxAgeMs };
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
}

export function webConfig(env: Env = process.env): WebConfig {
  const telegram = telegramConfig(env);
  return {
    telegram,
    allowedOrigins: webOrigins(env),
    frameAncestors: frameAncestors(env, telegram !== undefined),
    webRoot: envOptional(env, 'HAPI_WEB_ROOT'),
    trustedProxies: trustedProxies(env),
  };
}
