/**
 * The one place that derives every path from HAPI_HOME (default ~/.hapi), so the CLI, the
 * runner, the hub, session processes and tests always agree.
 */
import { createHash } from 'node:crypto';
import { homedir, tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from './errors.js';
import type { Env } from './config.js';

/** The socket's name in $HAPI_HOME. */
const RUNNER_SOCKET_NAME = 'runner.sock';

/** Linux sun_path is 108 bytes including the NUL; macOS is 104. */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'darwin' ? 103 : 107;

export interface HapiPaths {
  home: string;
  stateFile: string;
  lockFile: string;
  /** The runner's gRPC Unix socket. */
  socket: string;
  logsDir: string;
  /** Durable registry of the runner's sessions. */
  sessionsFile: string;
  /** Per-session agent output logs. */
  sessionLogsDir: string;
  /** Ended sessions the runner keeps (final screen, exit status): `<id>.json` + `<id>.screen.json`. */
  endedSessionsDir: string;
  /** User settings (agents, workspace roots). */
  settingsFile: string;
  /** This machine's stable id for the hub. */
  machineIdFile: string;
  /** Hub URL and token saved by `hapi auth login` (0600). */
  authFile: string;
  /** The hub's SQLite database (embedded default). */
  hubDb: string;
  /** The hub's owner token, written once on first start (0600). */
  hubOwnerTokenFile: string;
  /** Where a running hub records its pid and listening addresses (for local CLI commands). */
  hubStateFile: string;
  /** Per-session agent hook settings (Claude Code's `--settings` file): `<id>.claude.json`, 0600. */
  sessionHooksDir: string;
  /** The hub's private CA and TLS certificate (`hapi up --host`): ca.pem, ca-key.pem, hub.pem, hub-key.pem. */
  hubTlsDir: string;
  /** The private CA's certificate, which clients of this HAPI_HOME trust (src/shared/tls-trust.ts). */
  hubCaCert: string;
}

/** HAPI_HOME of an environment; `userHome` is that environment's home directory (default: ours). */
export function resolveHapiHome(env: Env = process.env, userHome: string = homedir()): string {
  const raw = env.HAPI_HOME;
  if (raw === undefined || raw.trim() === '') return join(userHome, '.hapi');
  const value = raw.trim().replace(/^~(?=$|\/)/, userHome);
  if (!isAbsolute(value)) return resolve(value);
  return value;
}

export function hapiPaths(env: Env = process.env): HapiPaths {
  const home = resolveHapiHome(env);
  if (home.includes('\0')) throw new ConfigError('HAPI_HOME must not contain NUL bytes');
  return {
    home,
    stateFile: join(home, 'runner.state.json'),
    lockFile: join(home, 'runner.state.json.lock'),
    socket: socketPathFor(home, env),
    logsDir: join(home, 'logs'),
    sessionsFile: join(home, 'runner.sessions.json'),
    sessionLogsDir: join(home, 'logs', 'sessions'),
    endedSessionsDir: join(home, 'ended-sessions'),
    settingsFile: join(home, 'settings.json'),
    machineIdFile: join(home, 'machine-id'),
    authFile: join(home, 'auth.json'),
    hubDb: join(home, 'hub.db'),
    hubOwnerTokenFile: join(home, 'hub-owner-token'),
    hubStateFile: join(home, 'hub.state.json'),
    sessionHooksDir: join(home, 'session-hooks'),
    hubTlsDir: join(home, 'tls'),
    hubCaCert: join(home, 'tls', 'ca.pem'),
  };
}

/**
 * `$HAPI_HOME/runner.sock`, unless that path is too long for a Unix socket: then a short
 * per-user runtime path `/tmp/hapi-<uid>/<hash of HAPI_HOME>.sock` (directory 0700), which is
 * stable for a given HAPI_HOME. The chosen path is also recorded in the state file. The runtime
 * directory is `$XDG_RUNTIME_DIR` of `env` (the same env HAPI_HOME came from) when usable.
 */
export function socketPathFor(home: string, env: Env = process.env): string {
  return socketPathOrFallback(join(home, RUNNER_SOCKET_NAME), home, '', env);
}

/**
 * A session's terminal socket, `$HAPI_HOME/sessions/<id>.sock`, with the same fallback as the
 * runner's socket when that is too long: `<runtime dir>/s-<hash of HAPI_HOME and id>.sock`.
 * The CLI finds a session's socket from its id with this, the session process listens on it.
 */
export function sessionSocketPathFor(home: string, sessionId: string, env: Env = process.env): string {
  return socketPathOrFallback(join(home, 'sessions', `${sessionId}.sock`), home, `\0${sessionId}`, env);
}

function socketPathOrFallback(preferred: string, home: string, key: string, env: Env): string {
  if (Buffer.byteLength(preferred) <= MAX_SOCKET_PATH_BYTES) return preferred;
  const hash = createHash('sha256').update(home + key).digest('hex').slice(0, 16);
  const fallback = join(runtimeSocketDir(env), `${key ? 's-' : ''}${hash}.sock`);
  if (Buffer.byteLength(fallback) > MAX_SOCKET_PATH_BYTES) {
    throw new ConfigError(
      `socket path ${preferred} is longer than the OS limit of ${MAX_SOCKET_PATH_BYTES} bytes, and so is the fallback ${fallback}; use a shorter HAPI_HOME`,
    );
  }
  return fallback;
}

/**
 * The per-user directory of fallback sockets, `<runtime base>/hapi-<uid>`. It lives in a
 * shared place (/tmp), so whoever prepares it must check it is ours and private (never trust
 * what another user may have created there first).
 */
export function runtimeSocketDir(env: Env = process.env): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return join(runtimeBase(env), `hapi-${uid}`);
}

/** True for a fallback socket in the (shared) runtime directory, false for one in $HAPI_HOME. */
export function isRuntimeSocketPath(socket: string, env: Env = process.env): boolean {
  return dirname(socket) === runtimeSocketDir(env);
}

function runtimeBase(env: Env): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && isAbsolute(xdg) && Buffer.byteLength(xdg) < 60) return xdg;
  return tmpdir().length < 60 ? tmpdir() : '/tmp';
}

/** A service manager that can run the runner at boot (`hapi runner install-service`). */
export type ServiceManagerKind = 'systemd' | 'launchd';

/** Where the runner's service is installed for one HAPI_HOME, and under which name. */
export interface ServicePaths {
  kind: ServiceManagerKind;
  /** systemd unit name (`hapi-runner.service`) or launchd label (`dev.hapi.runner`). */
  name: string;
  /** The unit file or the LaunchAgent's plist. */
  file: string;
  /** launchd only: where the service's stdout and stderr go (systemd has the journal). */
  stdoutLog: string;
  stderrLog: string;
}

/**
 * The service of `home`. The default HAPI_HOME gets the plain name; any other one a name with a
 * hash of its path, so a second HAPI_HOME (a test's, a separate profile) never replaces the
 * first one's service. systemd user units live in `$XDG_CONFIG_HOME/systemd/user` (default
 * ~/.config), LaunchAgents in `~/Library/LaunchAgents`: where each manager looks for them.
 */
export function servicePathsFor(kind: ServiceManagerKind, env: Env = process.env, userHome: string = env.HOME || homedir()): ServicePaths {
  const home = resolveHapiHome(env, userHome);
  const isDefault = home === join(userHome, '.hapi');
  const suffix = isDefault ? '' : createHash('sha256').update(home).digest('hex').slice(0, 8);
  const logs = join(home, 'logs');
  const stdoutLog = join(logs, 'service.out.log');
  const stderrLog = join(logs, 'service.err.log');
  if (kind === 'launchd') {
    const name = suffix ? `dev.hapi.runner.${suffix}` : 'dev.hapi.runner';
    return { kind, name, file: join(userHome, 'Library', 'LaunchAgents', `${name}.plist`), stdoutLog, stderrLog };
  }
  const xdg = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(userHome, '.config');
  const name = suffix ? `hapi-runner-${suffix}.service` : 'hapi-runner.service';
  return { kind, name, file: join(xdg, 'systemd', 'user', name), stdoutLog, stderrLog };
}
