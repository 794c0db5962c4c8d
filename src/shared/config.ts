/**
 * Configuration from environment variables. Every variable is parsed here, with its default,
 * and a bad value is a ConfigError that names the variable and what it expected. Sections are
 * parsed lazily so that, e.g., a bad hub setting does not break `hapi runner status`.
 */
import { ConfigError } from './errors.js';
import { clusterConfig, type ClusterConfig } from './config-cluster.js';

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
  /** HAPI_SESSION_SCROLLBACK: lines of scrollback the screen model keeps. */
  scrollback: number;
  /** HAPI_SESSION_RING_BYTES: raw output kept, with offsets, for viewers that resume. */
  ringBytes: number;
  /**
   * HAPI_SESSION_VIEWER_WINDOW_BYTES: how far a viewer may fall behind before its backlog is
   * dropped and it gets a fresh snapshot.
   */
  viewerWindowBytes: number;
  /**
   * HAPI_SESSION_LOG_MAX_BYTES: size at which a runner-spawned session's log is rotated (its
   * content moves to `<id>.log.1`, replacing the previous one), so output never fills the disk.
   */
  logMaxBytes: number;
  /**
   * HAPI_SESSION_SPOOL_MAX_BYTES: how far (bytes) the screen model may lag the output during a
   * flood, the part the ring cannot hold kept on disk, before reading the PTY pauses until it
   * caught up; 0 keeps the lag in memory, at most 8 MiB.
   */
  spoolMaxBytes: number;
  /**
   * HAPI_SESSION_PROMPT_WAIT_MS: the longest a typed prompt waits for the agent's screen to
   * settle (src/session/initial-prompt.ts) before it is typed anyway.
   */
  promptWaitMs: number;
  /**
   * HAPI_SESSION_CPU_NICE: the nice value (0-19) of a session process's own CPU share (its
   * autogroup on Linux), so that its terminal work yields to the runner and the hub; 0 leaves it.
   */
  cpuNice: number;
  /**
   * HAPI_IDLE_MS: for agents without hooks, how long the terminal must stay quiet after output
   * before the session guesses the agent waits for input (and output again means working).
   */
  idleMs: number;
  /**
   * HAPI_APPROVAL_TIMEOUT_MS: how long an agent's permission request waits for a decision from
   * the page, the CLI or an API client before the agent's own prompt in its terminal takes over.
   */
  approvalTimeoutMs: number;
  /**
   * HAPI_TERMINAL_ACTIVE_MS: a person's own terminal (hapi in a terminal, a local hapi attach)
   * counts as in use while attached and typed in (or attached) within this long; then
   * permission requests are left to the agent's prompt there at once.
   */
  terminalActiveMs: number;
}

const MiB = 1024 * 1024;

export function sessionConfig(env: Env = process.env): SessionConfig {
  return {
    reportTimeoutMs: sessionReportTimeoutMs(env),
    lateReportIntervalMs: envInt(env, 'HAPI_SESSION_REPORT_RETRY_MS', 10_000, { min: 100, max: 3_600_000 }),
    // Each line of scrollback costs the screen model about 12 bytes per column: 100,000 lines
    // of 120 columns are some 140 MB, the most a session should ever hold.
    scrollback: envInt(env, 'HAPI_SESSION_SCROLLBACK', 5_000, { min: 0, max: 100_000 }),
    ringBytes: envInt(env, 'HAPI_SESSION_RING_BYTES', 4 * MiB, { min: 64 * 1024, max: 1024 * MiB }),
    viewerWindowBytes: envInt(env, 'HAPI_SESSION_VIEWER_WINDOW_BYTES', 2 * MiB, { min: 64 * 1024, max: 1024 * MiB }),
    logMaxBytes: envInt(env, 'HAPI_SESSION_LOG_MAX_BYTES', 10 * MiB, { min: 64 * 1024, max: 1024 * 1024 * MiB }),
    spoolMaxBytes: envInt(env, 'HAPI_SESSION_SPOOL_MAX_BYTES', 256 * MiB, { min: 0, max: 64 * 1024 * MiB }),
    cpuNice: envInt(env, 'HAPI_SESSION_CPU_NICE', 10, { min: 0, max: 19 }),
    // Agents redraw a spinner or a timer at least every second while they work; 5 s of silence
    // is a finished turn, not a pause in one.
    idleMs: envInt(env, 'HAPI_IDLE_MS', 5_000, { min: 50, max: 3_600_000 }),
    approvalTimeoutMs: envInt(env, 'HAPI_APPROVAL_TIMEOUT_MS', 600_000, { min: 100, max: 86_400_000 }),
    terminalActiveMs: envInt(env, 'HAPI_TERMINAL_ACTIVE_MS', 120_000, { min: 0, max: 86_400_000 }),
    promptWaitMs: envInt(env, 'HAPI_SESSION_PROMPT_WAIT_MS', 30_000, { min: 1_000, max: 600_000 }),
  };
}

/** Settings of a terminal attached to a session (`hapi` in a terminal, `hapi attach`). */
export interface AttachConfig {
  /**
   * HAPI_DETACH_KEY: the byte that detaches the terminal and leaves the session running, in caret
   * notation (`^\\`, the default as in dtach and abduco; `^]`, `^A`...), or `none` (undefined).
   */
  detachKey: number | undefined;
}

/** Default detach key: Ctrl-\ (0x1c). */
export const DEFAULT_DETACH_KEY = 0x1c;

export function attachConfig(env: Env = process.env): AttachConfig {
  return { detachKey: parseDetachKey(env.HAPI_DETACH_KEY) };
}

/**
 * Caret notation: `^` and one of `@ A-Z [ \\ ] ^ _` (letters in either case) for 0x00-0x1f, or
 * `^?` for DEL; `none` disables the key; empty or unset gives the default.
 */
function parseDetachKey(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return DEFAULT_DETACH_KEY;
  const text = raw.trim();
  if (text.toLowerCase() === 'none') return undefined;
  const m = /^\^([@A-Za-z[\\\]^_?])$/.exec(text);
  if (!m) throw new ConfigError(`HAPI_DETACH_KEY must be a control key in caret notation (e.g. ^\\ or ^]) or none, got ${JSON.stringify(raw)}`);
  const c = m[1]!;
  return c === '?' ? 0x7f : c.toUpperCase().charCodeAt(0) - 0x40;
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
  /**
   * HAPI_ENDED_SESSION_KEEP_MS: how long the runner keeps an ended session's final screen and
   * exit status (default 24 h; 0 keeps none).
   */
  endedSessionKeepMs: number;
  /**
   * HAPI_RUNNER_SERVICE: set by the unit `hapi runner install-service` writes (systemd or
   * launchd); the service manager owns this runner (it hands off by exiting, see handoff.ts).
   */
  serviceManager?: 'systemd' | 'launchd';
}

function serviceManager(env: Env): RunnerConfig['serviceManager'] {
  const value = envOptional(env, 'HAPI_RUNNER_SERVICE');
  if (value === undefined || value === 'systemd' || value === 'launchd') return value;
  throw new ConfigError(`HAPI_RUNNER_SERVICE must be systemd or launchd, got ${JSON.stringify(value)}`);
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
    endedSessionKeepMs: envInt(env, 'HAPI_ENDED_SESSION_KEEP_MS', 86_400_000, { min: 0, max: 30 * 86_400_000 }),
    serviceManager: serviceManager(env),
  };
}

export const DEFAULT_HUB_GRPC_PORT = 3737;
export const DEFAULT_HUB_HTTP_PORT = 3738;

/** Where the runner's hub link points and with which token. */
export interface HubLinkConfig {
  /** HAPI_API_URL, e.g. http://127.0.0.1:3737 (https:// for TLS); the first of apiUrls. */
  apiUrl: string;
  /**
   * HAPI_API_URL as a comma-separated list (several hub replicas): the runner connects to one
   * and moves to the next when it fails or drains.
   */
  apiUrls?: string[];
  /** CLI_API_TOKEN; undefined falls back to the token saved by `hapi auth login`. */
  token?: string;
}

export function hubLinkConfig(env: Env = process.env): HubLinkConfig {
  const apiUrls = hubUrls(envString(env, 'HAPI_API_URL', `http://127.0.0.1:${DEFAULT_HUB_GRPC_PORT}`));
  return { apiUrl: apiUrls[0]!, apiUrls, token: envOptional(env, 'CLI_API_TOKEN') };
}

/** HAPI_API_URL split at commas (several hub replicas), each checked by parseHubUrl. */
export function hubUrls(raw: string): string[] {
  const urls = raw.split(',').map((u) => u.trim()).filter((u) => u !== '');
  if (urls.length === 0) throw new ConfigError('HAPI_API_URL is empty');
  for (const u of urls) parseHubUrl(u);
  return urls;
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

/**
 * Extra CA certificates clients trust for a hub's TLS: NODE_EXTRA_CA_CERTS (a PEM file, as
 * Node reads it for its own TLS; grpc-js does not, so the hub client passes it on) and
 * GRPC_DEFAULT_SSL_ROOTS_FILE_PATH (grpc-js's own variable, kept working).
 */
export function extraCaFiles(env: Env = process.env): string[] {
  return [envOptional(env, 'NODE_EXTRA_CA_CERTS'), envOptional(env, 'GRPC_DEFAULT_SSL_ROOTS_FILE_PATH')].filter((f): f is string => f !== undefined);
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
  /**
   * HAPI_HUB_DATABASE_URL (postgres://user:password@host:port/database?...): the hub keeps its
   * data in PostgreSQL instead of SQLite. Unset: SQLite at dbPath.
   */
  databaseUrl?: string;
  /**
   * HAPI_HUB_LISTEN_RETRY_MS (PostgreSQL only): first delay before the change listener reconnects
   * after losing its connection (doubling up to 10 s); it then resyncs its watchers in full.
   */
  listenRetryMs: number;
  /**
   * HAPI_HUB_DATABASE_POOL_MAX (PostgreSQL only; default 10): connections of the hub's pool. The
   * change bus holds three more (its listener and two for announcements).
   */
  databasePoolMax: number;
  /**
   * Admission control of runner connects (src/hub/domain/connect-gate.ts). HAPI_HUB_CONNECT_CONCURRENCY:
   * connects in their database phase at once (default: the pool less two, kept for everything
   * else; 8 on SQLite); HAPI_HUB_CONNECT_QUEUE (default 10000): connects waiting for a turn, for at
   * most 60 s; one more is refused with UNAVAILABLE and a retry hint (grpc-retry-pushback-ms).
   */
  connectConcurrency: number;
  connectQueue: number;
  /** Machine goes offline after this long without an alive message. */
  aliveTimeoutMs: number;
  /** Deadline of relayed spawns; longer than the runner's report timeout. */
  spawnDeadlineMs: number;
  /** Deadline of other relayed RPCs. */
  rpcDeadlineMs: number;
  /** Output held for one attached viewer before its backlog is dropped for a fresh snapshot. */
  viewerBufferBytes: number;
  /** How long a viewer's attach waits for its machine's runner to come back before it ends. */
  attachResumeMs: number;
  /** HAPI_HUB_METRICS_OPEN: /metrics without the owner token (a scraper on a trusted network). */
  metricsOpen: boolean;
  /** HAPI_HUB_LOG_KEEP: how many hub log files to keep. */
  logKeep: number;
  /**
   * HAPI_PUSH_ALLOW_LOOPBACK_HTTP: accept Web Push endpoints over plain http on 127.0.0.1 / ::1 /
   * localhost (a local push service under development, the tests). Off: https only.
   */
  pushAllowLoopbackHttp: boolean;
  logLevel: LogLevel;
  /**
   * HAPI_HUB_PUBLIC_URL: the address people and phones open (`https://hub.example.com`), used in
   * every link the hub makes (printed URLs, sign-in links); unset: derived from where it listens.
   */
  publicUrl?: string;
  /** One of several replicas (HAPI_HUB_PEER_ADDR, HAPI_HUB_CLUSTER_SECRET; config-cluster.ts); undefined: a single hub. */
  cluster?: ClusterConfig;
}

/** HAPI_HUB_PUBLIC_URL: an http(s) origin (no path, query or fragment), without a trailing slash. */
export function parsePublicUrl(raw: string | undefined): string | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError(`HAPI_HUB_PUBLIC_URL is not a valid URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`HAPI_HUB_PUBLIC_URL must use http:// or https://, got ${url.protocol}`);
  // The page and its API live at the origin's root: a path prefix would break every link.
  if (url.pathname !== '/' || url.search || url.hash || url.username) {
    throw new ConfigError(`HAPI_HUB_PUBLIC_URL must be an origin like https://hub.example.com (no path, query or user), got ${JSON.stringify(raw)}`);
  }
  return url.origin;
}

/** HAPI_HUB_DATABASE_URL, checked: a postgres:// or postgresql:// URL with a host. */
function databaseUrl(env: Env): string | undefined {
  const raw = envOptional(env, 'HAPI_HUB_DATABASE_URL');
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('HAPI_HUB_DATABASE_URL must be a URL like postgres://user:password@host:5432/hapi');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`HAPI_HUB_DATABASE_URL must start with postgres:// or postgresql://, got ${url.protocol}//`);
  }
  return raw;
}

export function hubConfig(env: Env = process.env): HubConfig {
  const tlsCert = envOptional(env, 'HAPI_HUB_TLS_CERT');
  const tlsKey = envOptional(env, 'HAPI_HUB_TLS_KEY');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError('HAPI_HUB_TLS_CERT and HAPI_HUB_TLS_KEY must be set together');
  }
  const reportTimeout = sessionReportTimeoutMs(env);
  const poolMax = envInt(env, 'HAPI_HUB_DATABASE_POOL_MAX', 10, { min: 2, max: 1_000 });
  return {
    host: envString(env, 'HAPI_HUB_HOST', '127.0.0.1'),
    grpcPort: envInt(env, 'HAPI_HUB_GRPC_PORT', DEFAULT_HUB_GRPC_PORT, { min: 0, max: 65535 }),
    httpPort: envInt(env, 'HAPI_HUB_HTTP_PORT', DEFAULT_HUB_HTTP_PORT, { min: 0, max: 65535 }),
    tlsCert,
    tlsKey,
    dbPath: envOptional(env, 'HAPI_HUB_DB'),
    databaseUrl: databaseUrl(env),
    listenRetryMs: envInt(env, 'HAPI_HUB_LISTEN_RETRY_MS', 500, { min: 10, max: 60_000 }),
    databasePoolMax: poolMax,
    connectConcurrency: envInt(env, 'HAPI_HUB_CONNECT_CONCURRENCY', databaseUrl(env) ? Math.max(1, poolMax - 2) : 8, { min: 1, max: 10_000 }),
    connectQueue: envInt(env, 'HAPI_HUB_CONNECT_QUEUE', 10_000, { min: 0, max: 1_000_000 }),
    aliveTimeoutMs: envInt(env, 'HAPI_HUB_ALIVE_TIMEOUT_MS', 45_000, { min: 100 }),
    spawnDeadlineMs: envInt(env, 'HAPI_HUB_SPAWN_DEADLINE_MS', reportTimeout + 15_000, { min: 100 }),
    rpcDeadlineMs: envInt(env, 'HAPI_HUB_RPC_DEADLINE_MS', 15_000, { min: 100 }),
    viewerBufferBytes: envInt(env, 'HAPI_HUB_VIEWER_BUFFER_BYTES', 4 * 1024 * 1024, { min: 64 * 1024 }),
    attachResumeMs: envInt(env, 'HAPI_HUB_ATTACH_RESUME_MS', 30_000, { min: 0 }),
    metricsOpen: envBool(env, 'HAPI_HUB_METRICS_OPEN', false),
    logKeep: envInt(env, 'HAPI_HUB_LOG_KEEP', 10, { min: 1, max: 1000 }),
    pushAllowLoopbackHttp: envBool(env, 'HAPI_PUSH_ALLOW_LOOPBACK_HTTP', false),
    logLevel: logLevel(env),
    publicUrl: parsePublicUrl(env.HAPI_HUB_PUBLIC_URL),
    cluster: clusterConfig(env, databaseUrl(env)),
  };
}
