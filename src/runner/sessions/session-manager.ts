/**
 * The runner's SessionManager: a small facade over its units, which share one explicit state
 * (session-state.ts): the one spawn path (spawn-session.ts, wait-for-report.ts), stopping
 * (stop-session.ts), reports from sessions (session-reports.ts), re-adoption from the durable
 * registry and pruning (adopt-sessions.ts). Lifecycle events and close() live here.
 *
 * Invariants:
 * - a spawned process that never reported is never left running (no ghosts);
 * - one request id never yields two processes, even when retried concurrently;
 * - a PID is only trusted together with its process start time (PID reuse);
 * - close() never touches sessions that reported; they outlive the runner.
 */
import { homedir } from 'node:os';
import { UnavailableError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { HapiPaths } from '../../shared/paths.js';
import { isSameProcessCheap } from '../../shared/proc.js';
import { cliPath as defaultCliPath } from '../../shared/version.js';
import type { SessionManager } from '../domain.js';
import { adoptSessions, pruneDeadSessions } from './adopt-sessions.js';
import { createAgentResolver } from './agents.js';
import { discoverSessions } from './session-discovery.js';
import { createSessionRegistry } from './session-registry.js';
import { reportEnded, reportStarted } from './session-reports.js';
import { createSessionState, type SessionConfig } from './session-state.js';
import { spawnSession, type SpawnContext } from './spawn-session.js';
import { stopSession } from './stop-session.js';

export interface SessionManagerOptions {
  /** Paths of this HAPI_HOME (registry, session logs, settings; HAPI_HOME is passed to sessions). */
  paths: HapiPaths;
  config: SessionConfig;
  log: Logger;
  /** Allowed workspace roots (`--workspace-root` plus settings.json, merged by the runner); empty = unrestricted. */
  workspaceRoots?: string[];
  /** Environment for agent resolution and for session processes (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The hapi CLI entry a session process runs (default: this process's CLI, dist/hapi.cjs). */
  cliPath?: string;
  /** Base for relative spawn directories (default: the user's home directory). */
  homeDir?: string;
  /** What runs a session process (systemd scopes under a systemd unit); default: node directly. */
  launchPrefix?: (sessionId: string) => Promise<string[]>;
}

/** The SessionManager plus what the runner's status and machine metadata need. */
export interface RunnerSessionManager extends SessionManager {
  /** Message of the last failed spawn; undefined after a successful one. */
  lastSpawnError(): string | undefined;
  /** Effective workspace roots (options + settings.json); empty = unrestricted. */
  workspaceRoots(): string[];
  /** Agent names whose executable resolves now. */
  availableAgents(): string[];
}

export function createSessionManager(opts: SessionManagerOptions): RunnerSessionManager {
  // The caller passes a component logger (the daemon's child({ c: 'sessions' })).
  const log = opts.log;
  const env: NodeJS.ProcessEnv = { ...(opts.env ?? process.env), HAPI_HOME: opts.paths.home };
  // Only the unit's own runner is owned by the service manager; a runner that a session's agent
  // starts (`hapi` in it) must not believe it is, or its hand-off would exit with nobody to restart it.
  delete env.HAPI_RUNNER_SERVICE;
  const homeDir = opts.homeDir ?? homedir();
  const registry = createSessionRegistry({ file: opts.paths.sessionsFile, log, discover: () => discoverSessions({ home: opts.paths.home }) });
  const state = createSessionState({ log, paths: opts.paths, config: opts.config, registry });
  /** The runner merges `--workspace-root` and settings.json once at start (workspace-roots.ts). */
  const workspaceRoots = (): string[] => [...(opts.workspaceRoots ?? [])];
  const spawning: SpawnContext = {
    agents: createAgentResolver({ env, settingsFile: opts.paths.settingsFile, cwd: homeDir }),
    env,
    homeDir,
    cliPath: opts.cliPath ?? defaultCliPath(),
    workspaceRoots,
    launchPrefix: opts.launchPrefix,
  };

  return {
    start: () => adoptSessions(state),
    list() {
      // One cheap check per entry: a session killed since the last prune (even if not yet
      // reaped by its parent) or whose PID was reused is not shown.
      return registry
        .values()
        .filter((s) => isSameProcessCheap(s.pid, s.processStartTime))
        .map((s) => ({ ...s }));
    },
    find(id) {
      const s = registry.get(id);
      return s && isSameProcessCheap(s.pid, s.processStartTime) ? { ...s } : undefined;
    },
    spawn: (spec) => spawnSession(state, spawning, spec),
    stop: (target) => stopSession(state, target),
    reportStarted: (report) => reportStarted(state, report),
    reportEnded: (end) => reportEnded(state, end),
    pruneDead: () => pruneDeadSessions(state),
    subscribe(listener) {
      state.listeners.add(listener);
      return () => state.listeners.delete(listener);
    },
    async close() {
      if (state.closing) return;
      state.closing = true;
      // Spawns still waiting never reported: they are failed and killed (no ghosts), and their
      // callers are told so (answered before the transports close). Sessions that reported keep running.
      for (const p of state.pending.values()) {
        p.reject(new UnavailableError(`the runner is shutting down; session ${p.sessionId} was stopped before it reported`, { sessionId: p.sessionId }));
      }
      await Promise.all([...state.inflightSpawns].map((p) => p.catch(() => undefined)));
      state.closed = true;
      await Promise.all([...state.background]);
      state.listeners.clear();
      // No final flush: every change was written when it happened, and by now a new runner
      // (hand-off, takeover) may own the registry file; rewriting it could erase its changes.
    },
    lastSpawnError: () => state.lastSpawnError,
    workspaceRoots,
    availableAgents: () => spawning.agents.availableAgents(),
  };
}
