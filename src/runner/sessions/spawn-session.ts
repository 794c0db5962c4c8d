/**
 * The one spawn path of the runner's SessionManager (gRPC, the HTTP gateway and the hub all
 * come here): validation, idempotent request ids, maxSessions, directory approval, worktree,
 * the workspace-root fence, agent resolution, launch and the wait for the session's report.
 * A spawned process that never reported is never left running.
 */
import { randomUUID } from 'node:crypto';
import { writeError } from '../../shared/atomic-file.js';
import {
  AlreadyExistsError,
  InternalError,
  ResourceExhaustedError,
  UnavailableError,
  isHapiError,
} from '../../shared/errors.js';
import { checkSpawnSpec } from '../../contract/limits.js';
import type { SessionInfo, SpawnOutcome, SpawnSpec } from '../../contract/types.js';
import type { AgentResolver } from './agents.js';
import { checkWorkspaceRoots, prepareDirectory } from './directory.js';
import { terminateProcess } from './process-tree.js';
import { markEnded, treeOf, type SessionState } from './session-state.js';
import { launchSession, type LaunchedSession } from './spawner.js';
import { waitForReport } from './wait-for-report.js';
import { createWorktree, removeWorktreeIfUnused, type CreatedWorktree } from './worktree.js';

/** What a spawn needs besides the shared state. */
export interface SpawnContext {
  agents: AgentResolver;
  /** Environment of session processes (with this HAPI_HOME). */
  env: NodeJS.ProcessEnv;
  /** Base for relative spawn directories. */
  homeDir: string;
  /** The hapi CLI entry a session process runs. */
  cliPath: string;
  /** Allowed workspace roots; empty = unrestricted. */
  workspaceRoots(): string[];
  /** What runs the session process (service/session-scope.ts); default: node directly. */
  launchPrefix?: (sessionId: string) => Promise<string[]>;
}

/**
 * Spawns a session and resolves once it reported. One request id never yields two processes:
 * a retry joins the spawn in flight, or gets the session it already produced.
 */
export function spawnSession(state: SessionState, ctx: SpawnContext, spec: SpawnSpec): Promise<SpawnOutcome> {
  if (state.closing) return Promise.reject(new UnavailableError('the runner is shutting down'));
  try {
    // Also here, not only in RunnerControl: the manager is the domain every caller goes through.
    checkSpawnSpec(spec);
  } catch (err) {
    return Promise.reject(err);
  }
  const requestId = spec.requestId?.trim() || undefined;
  if (!requestId) return trackSpawn(state, doSpawn(state, ctx, spec, undefined));
  const inflight = state.inflightByRequest.get(requestId);
  if (inflight) return inflight;
  const done = findByRequest(state, requestId);
  if (done) return Promise.resolve({ kind: 'session', session: { ...done } });
  const p = trackSpawn(state, doSpawn(state, ctx, spec, requestId));
  state.inflightByRequest.set(requestId, p);
  // Failures and approval requests are not remembered: a retry (e.g. now approved) runs anew.
  const forget = () => state.inflightByRequest.delete(requestId);
  p.then(forget, forget);
  return p;
}

function findByRequest(state: SessionState, requestId: string): SessionInfo | undefined {
  const live = state.registry.findByRequestId(requestId);
  if (live && live.state === 'running') return live;
  const id = state.requestIndex.get(requestId);
  return id ? (state.registry.get(id) ?? state.recentEnded.get(id)) : undefined;
}

function trackSpawn(state: SessionState, p: Promise<SpawnOutcome>): Promise<SpawnOutcome> {
  state.inflightSpawns.add(p);
  const forget = () => state.inflightSpawns.delete(p);
  p.then(forget, forget);
  return p;
}

async function doSpawn(state: SessionState, ctx: SpawnContext, spec: SpawnSpec, requestId: string | undefined): Promise<SpawnOutcome> {
  const { registry, log, config } = state;
  const wanted = spec.sessionId?.trim() || undefined;
  // Reserve synchronously: concurrent spawns see each other before any await.
  if (wanted && (registry.get(wanted) || state.pending.has(wanted) || state.reserved.has(wanted) || state.recentEnded.has(wanted))) {
    throw new AlreadyExistsError(`session id ${wanted} is already in use`, { sessionId: wanted });
  }
  if (registry.size() + state.reserved.size >= config.maxSessions) {
    throw new ResourceExhaustedError(
      `the runner already tracks ${config.maxSessions} sessions (HAPI_RUNNER_MAX_SESSIONS); stop one first`,
      { maxSessions: config.maxSessions },
    );
  }
  const sessionId = wanted ?? randomUUID();
  state.reserved.add(sessionId);
  let worktree: CreatedWorktree | undefined;
  let launched: LaunchedSession | undefined;
  try {
    const agent = ctx.agents.resolve(spec.agent);
    const roots = ctx.workspaceRoots();
    const dir = prepareDirectory({ directory: spec.directory, approveCreate: spec.approveCreateDirectory, workspaceRoots: roots, homeDir: ctx.homeDir });
    if (dir.kind === 'approval-required') {
      log.info({ directory: dir.directory }, 'spawn needs approval to create the directory');
      return { kind: 'approval-required', directory: dir.directory };
    }
    if (dir.created) log.info({ directory: dir.directory }, 'created session directory');
    let directory = dir.directory;
    if (spec.worktree) {
      worktree = await createWorktree({ directory, sessionId, branch: spec.worktree.branch, workspaceRoots: roots, log });
      directory = worktree.directory;
    }
    // The fence holds for the directory the session really runs in (symlinks resolved).
    if (roots.length > 0) checkWorkspaceRoots(directory, roots);
    if (state.closing) throw new UnavailableError('the runner is shutting down');

    const reported = new Promise<SessionInfo>((resolve, reject) => {
      state.pending.set(sessionId, { sessionId, resolve, reject });
    });
    // Whoever loses the race below must not become an unhandled rejection.
    reported.catch(() => {});
    const started = await launchSession({
      sessionId,
      agent: agent.name,
      agentArgs: spec.agentArgs ?? [],
      prompt: spec.prompt || undefined,
      directory,
      cliPath: ctx.cliPath,
      logsDir: state.paths.sessionLogsDir,
      env: ctx.env,
      prefix: await ctx.launchPrefix?.(sessionId),
    });
    launched = started;
    state.pending.get(sessionId)!.launched = started;
    const session: SessionInfo = {
      id: sessionId,
      pid: started.pid,
      processStartTime: started.processStartTime,
      startedBy: 'runner',
      directory,
      agent: agent.name,
      startedAt: new Date(),
      state: 'starting',
      worktree: worktree?.info,
      logPath: started.logPath,
      requestId,
    };
    registry.put(session);
    state.reserved.delete(sessionId);
    log.info({ sessionId, sessionPid: started.pid, agent: agent.name, directory }, 'session process spawned; waiting for its report');

    const result = await waitForReport({
      sessionId,
      launched: started,
      reported,
      timeoutMs: config.sessionReportTimeoutMs,
      kill: () => killTree(state, sessionId, started),
    });
    state.lastSpawnError = undefined;
    watchExit(state, sessionId, started);
    return { kind: 'session', session: { ...result } };
  } catch (err) {
    // A full disk (e.g. the session log cannot be created) is ResourceExhausted "disk full".
    const mapped = writeError((err as NodeJS.ErrnoException).path ?? state.paths.home, err);
    const error = isHapiError(mapped) ? mapped : new InternalError(`spawn failed: ${err instanceof Error ? err.message : String(err)}`);
    state.lastSpawnError = error.message;
    log.warn({ sessionId, err: error }, 'spawn failed');
    if (launched) {
      // Belt and braces: every failure path after launch leaves nothing running.
      const r = await killTree(state, sessionId, launched);
      if (r === 'still-alive') log.error({ sessionId, sessionPid: launched.pid }, 'failed spawn: process survived SIGKILL');
      if (!state.closed) registry.remove(sessionId);
    }
    if (worktree) await removeWorktreeIfUnused(worktree, log).catch((e) => log.warn({ err: e }, 'worktree cleanup failed'));
    throw error;
  } finally {
    state.reserved.delete(sessionId);
    state.pending.delete(sessionId);
  }
}

/** SIGTERM -> SIGKILL grace for a half-started session killed because the runner shuts down. */
const SHUTDOWN_KILL_GRACE_MS = 500;

/**
 * Stops the whole tree of a spawned session (it leads its own group by construction). On
 * shutdown with a short grace: nobody uses a session that never reported, and the caller's
 * answer ("... was stopped before it reported") waits for this kill.
 */
function killTree(state: SessionState, sessionId: string, launched: LaunchedSession) {
  const tree = treeOf(state, sessionId);
  const graceMs = state.closing ? Math.min(tree.graceMs, SHUTDOWN_KILL_GRACE_MS) : tree.graceMs;
  return terminateProcess({ pid: launched.pid, startTime: launched.processStartTime, group: true, ...tree, graceMs });
}

/** Learns promptly about the end of a session this runner spawned. */
function watchExit(state: SessionState, sessionId: string, launched: LaunchedSession): void {
  void launched.exited.then(({ code, signal }) => {
    const current = state.registry.get(sessionId);
    if (!current || current.pid !== launched.pid) return;
    markEnded(state, sessionId, { exitCode: code ?? undefined, exitSignal: signal ?? undefined });
  });
}
