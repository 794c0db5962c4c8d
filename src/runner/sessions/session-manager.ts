/**
 * The runner's SessionManager: the one spawn path (validation, workspace roots, directory
 * approval, worktree, agent resolution, launch, the wait for the session's report), stopping,
 * reports from sessions, pruning, lifecycle events, and re-adoption from the durable registry.
 *
 * Invariants:
 * - a spawned process that never reported is never left running (no ghosts);
 * - one request id never yields two processes, even when retried concurrently;
 * - a PID is only trusted together with its process start time (PID reuse);
 * - close() never touches sessions that reported; they outlive the runner.
 */
import { randomUUID } from 'node:crypto';
import { homedir } from 'node:os';
import { writeError } from '../../shared/atomic-file.js';
import type { RunnerConfig } from '../../shared/config.js';
import {
  AbortedError,
  AlreadyExistsError,
  DeadlineExceededError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  UnavailableError,
  isHapiError,
} from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { HapiPaths } from '../../shared/paths.js';
import { isSameProcess, isSameProcessCheap } from '../../shared/proc.js';
import { cliPath as defaultCliPath } from '../../shared/version.js';
import {
  type SessionEnd,
  type SessionInfo,
  type SessionReport,
  type SpawnOutcome,
  type SpawnSpec,
  type StopResult,
  type StopTarget,
} from '../../contract/types.js';
import type { SessionEvent, SessionManager } from '../domain.js';
import { createAgentResolver, DEFAULT_AGENT, type AgentResolver } from './agents.js';
import { checkWorkspaceRoots, prepareDirectory } from './directory.js';
import { tailLines } from './log-tail.js';
import { isSelfOrDescendant, leadsOwnGroup, terminateProcess } from './process-tree.js';
import { verifyReportedProcess } from './session-process.js';
import { createSessionRegistry, fromEntry } from './session-registry.js';
import { discoverSessions } from './session-discovery.js';
import { remember } from './session-state.js';
import { validateSpec } from './spawn-session.js';
import { launchSession, type LaunchedSession } from './spawner.js';
import { createWorktree, removeWorktreeIfUnused, type CreatedWorktree } from './worktree.js';

export interface SessionManagerOptions {
  /** Paths of this HAPI_HOME (registry, session logs, settings; HAPI_HOME is passed to sessions). */
  paths: HapiPaths;
  config: Pick<RunnerConfig, 'sessionReportTimeoutMs' | 'maxSessions' | 'sessionStopGraceMs'>;
  log: Logger;
  /** Allowed workspace roots (`--workspace-root` plus settings.json, merged by the runner); empty = unrestricted. */
  workspaceRoots?: string[];
  /** Environment for agent resolution and for session processes (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The hapi CLI entry a session process runs (default: this process's CLI, dist/hapi.cjs). */
  cliPath?: string;
  /** Base for relative spawn directories (default: the user's home directory). */
  homeDir?: string;
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

interface PendingSpawn {
  sessionId: string;
  launched?: LaunchedSession;
  resolve(session: SessionInfo): void;
  reject(err: Error): void;
}

export function createSessionManager(opts: SessionManagerOptions): RunnerSessionManager {
  // The caller passes a component logger (the daemon's child({ c: 'sessions' })).
  const log = opts.log;
  const env = { ...(opts.env ?? process.env), HAPI_HOME: opts.paths.home };
  const homeDir = opts.homeDir ?? homedir();
  const cli = opts.cliPath ?? defaultCliPath();
  const registry = createSessionRegistry({ file: opts.paths.sessionsFile, log, discover: () => discoverSessions({ home: opts.paths.home }) });
  const agents: AgentResolver = createAgentResolver({ env, settingsFile: opts.paths.settingsFile, cwd: homeDir });
  const listeners = new Set<(event: SessionEvent) => void>();
  /** Spawns between reservation and their session's report (or failure). */
  const pending = new Map<string, PendingSpawn>();
  /** Ids reserved by spawns that have not launched yet (count toward maxSessions). */
  const reserved = new Set<string>();
  const inflightByRequest = new Map<string, Promise<SpawnOutcome>>();
  /** requestId -> sessionId of completed spawns, bounded like recentEnded. */
  const requestIndex = new Map<string, string>();
  const recentEnded = new Map<string, SessionInfo>();
  const stopping = new Map<string, Promise<StopResult>>();
  /** Background kills (orphans, stale 'starting' entries) that close() waits for. */
  const background = new Set<Promise<unknown>>();
  /** Every doSpawn in flight, so close() can wait for their cleanup. */
  const inflightSpawns = new Set<Promise<SpawnOutcome>>();
  let lastSpawnError: string | undefined;
  /** close() started: no new spawns or reports. */
  let closing = false;
  /** close() finished its cleanup: no more registry writes (a new runner may own the file). */
  let closed = false;

  function emit(kind: SessionEvent['kind'], session: SessionInfo): void {
    const event: SessionEvent = { kind, session: { ...session } };
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (err) {
        log.error({ err, kind }, 'session event listener threw');
      }
    }
  }

  function track(p: Promise<unknown>): void {
    const wrapped = p.catch((err) => log.error({ err }, 'background session task failed')).finally(() => background.delete(wrapped));
    background.add(wrapped);
  }

  /** Removes a live session and announces its end. Idempotent; no-op after close(). */
  function markEnded(id: string, end: { exitCode?: number; exitSignal?: string } = {}): SessionInfo | undefined {
    if (closed) return undefined;
    const session = registry.remove(id);
    if (!session) return undefined;
    return finishEnded(session, end);
  }

  function finishEnded(session: SessionInfo, end: { exitCode?: number; exitSignal?: string }): SessionInfo {
    const ended: SessionInfo = { ...session, state: 'ended', endedAt: new Date(), exitCode: end.exitCode, exitSignal: end.exitSignal };
    remember(recentEnded, session.id, ended);
    if (session.requestId) remember(requestIndex, session.requestId, session.id);
    // A spawn that never reported was never announced as started, so it does not "end" either.
    if (session.state === 'running') {
      log.info({ sessionId: session.id, pid: session.pid, exitCode: end.exitCode, exitSignal: end.exitSignal }, 'session ended');
      emit('ended', ended);
    }
    return ended;
  }

  /** What terminateProcess needs to find a session's whole tree, and the grace. */
  function treeOf(sessionId: string) {
    return { sessionId, hapiHome: opts.paths.home, graceMs: opts.config.sessionStopGraceMs };
  }

  function stopGroupOf(session: SessionInfo): boolean {
    // Runner-spawned sessions lead their group by construction; terminal ones only sometimes.
    return session.startedBy === 'runner' || leadsOwnGroup(session.pid);
  }

  // ---------------------------------------------------------------- start

  async function start(): Promise<SessionInfo[]> {
    const entries = registry.load();
    const adopted: SessionInfo[] = [];
    for (const entry of entries) {
      const alive = entry.processStartTime !== undefined && isSameProcess(entry.pid, entry.processStartTime);
      if (!alive) {
        log.info({ sessionId: entry.id, pid: entry.pid }, 'forgetting session whose process is gone (or whose PID was reused)');
        continue;
      }
      if (entry.state === 'starting') {
        // Its spawner (a previous runner) is gone and nobody waits for it: no ghosts.
        log.warn({ sessionId: entry.id, pid: entry.pid }, 'stopping a session that never reported to the runner that spawned it');
        track(terminateProcess({ pid: entry.pid, startTime: entry.processStartTime, group: true, ...treeOf(entry.id) }));
        continue;
      }
      const session = { ...fromEntry(entry), state: 'running' as const };
      adopted.push(session);
      if (session.requestId) remember(requestIndex, session.requestId, session.id);
    }
    registry.replaceAll(adopted);
    for (const session of adopted) {
      log.info({ sessionId: session.id, pid: session.pid, startedBy: session.startedBy }, 'session adopted');
      emit('adopted', session);
    }
    return adopted.map((s) => ({ ...s }));
  }

  // ---------------------------------------------------------------- spawn

  function findByRequest(requestId: string): SessionInfo | undefined {
    const live = registry.findByRequestId(requestId);
    if (live && live.state === 'running') return live;
    const id = requestIndex.get(requestId);
    return id ? (registry.get(id) ?? recentEnded.get(id)) : undefined;
  }

  function spawn(spec: SpawnSpec): Promise<SpawnOutcome> {
    if (closing) return Promise.reject(new UnavailableError('the runner is shutting down'));
    try {
      validateSpec(spec);
    } catch (err) {
      return Promise.reject(err);
    }
    const requestId = spec.requestId?.trim() || undefined;
    if (!requestId) return trackSpawn(doSpawn(spec, undefined));
    const inflight = inflightByRequest.get(requestId);
    if (inflight) return inflight;
    const done = findByRequest(requestId);
    if (done) return Promise.resolve({ kind: 'session', session: { ...done } });
    const p = trackSpawn(doSpawn(spec, requestId));
    inflightByRequest.set(requestId, p);
    // Failures and approval requests are not remembered: a retry (e.g. now approved) runs anew.
    const forget = () => inflightByRequest.delete(requestId);
    p.then(forget, forget);
    return p;
  }

  function trackSpawn(p: Promise<SpawnOutcome>): Promise<SpawnOutcome> {
    inflightSpawns.add(p);
    const forget = () => inflightSpawns.delete(p);
    p.then(forget, forget);
    return p;
  }

  async function doSpawn(spec: SpawnSpec, requestId: string | undefined): Promise<SpawnOutcome> {
    const wanted = spec.sessionId?.trim() || undefined;
    // Reserve synchronously: concurrent spawns see each other before any await.
    if (wanted && (registry.get(wanted) || pending.has(wanted) || reserved.has(wanted) || recentEnded.has(wanted))) {
      throw new AlreadyExistsError(`session id ${wanted} is already in use`, { sessionId: wanted });
    }
    if (registry.size() + reserved.size >= opts.config.maxSessions) {
      throw new ResourceExhaustedError(
        `the runner already tracks ${opts.config.maxSessions} sessions (HAPI_RUNNER_MAX_SESSIONS); stop one first`,
        { maxSessions: opts.config.maxSessions },
      );
    }
    const sessionId = wanted ?? randomUUID();
    reserved.add(sessionId);
    let worktree: CreatedWorktree | undefined;
    let launched: LaunchedSession | undefined;
    try {
      const agent = agents.resolve(spec.agent);
      const roots = workspaceRoots();
      const dir = prepareDirectory({ directory: spec.directory, approveCreate: spec.approveCreateDirectory, workspaceRoots: roots, homeDir });
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
      if (closing) throw new UnavailableError('the runner is shutting down');

      const reported = new Promise<SessionInfo>((resolve, reject) => {
        pending.set(sessionId, { sessionId, resolve, reject });
      });
      // Whoever loses the race below must not become an unhandled rejection.
      reported.catch(() => {});
      launched = await launchSession({
        sessionId,
        agent: agent.name,
        agentArgs: spec.agentArgs ?? [],
        directory,
        cliPath: cli,
        logsDir: opts.paths.sessionLogsDir,
        env,
      });
      const pendingEntry = pending.get(sessionId)!;
      pendingEntry.launched = launched;
      const session: SessionInfo = {
        id: sessionId,
        pid: launched.pid,
        processStartTime: launched.processStartTime,
        startedBy: 'runner',
        directory,
        agent: agent.name,
        startedAt: new Date(),
        state: 'starting',
        worktree: worktree?.info,
        logPath: launched.logPath,
        requestId,
      };
      registry.put(session);
      reserved.delete(sessionId);
      log.info({ sessionId, pid: launched.pid, agent: agent.name, directory }, 'session process spawned; waiting for its report');

      const result = await waitForReport(sessionId, launched, reported);
      lastSpawnError = undefined;
      watchExit(sessionId, launched);
      return { kind: 'session', session: { ...result } };
    } catch (err) {
      // A full disk (e.g. the session log cannot be created) is ResourceExhausted "disk full".
      const mapped = writeError((err as NodeJS.ErrnoException).path ?? opts.paths.home, err);
      const error = isHapiError(mapped) ? mapped : new InternalError(`spawn failed: ${err instanceof Error ? err.message : String(err)}`);
      lastSpawnError = error.message;
      log.warn({ sessionId, err: error }, 'spawn failed');
      if (launched) {
        // Belt and braces: every failure path after launch leaves nothing running.
        const r = await terminateProcess({ pid: launched.pid, startTime: launched.processStartTime, group: true, ...treeOf(sessionId) });
        if (r === 'still-alive') log.error({ sessionId, pid: launched.pid }, 'failed spawn: process survived SIGKILL');
        if (!closed) registry.remove(sessionId);
      }
      if (worktree) await removeWorktreeIfUnused(worktree, log).catch((e) => log.warn({ err: e }, 'worktree cleanup failed'));
      throw error;
    } finally {
      reserved.delete(sessionId);
      pending.delete(sessionId);
    }
  }

  /** Resolves with the reported session; rejects on early exit, timeout or shutdown. */
  async function waitForReport(sessionId: string, launched: LaunchedSession, reported: Promise<SessionInfo>): Promise<SessionInfo> {
    const timeoutMs = opts.config.sessionReportTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const exited = launched.exited.then((e) => ({ exit: e }));
    try {
      const first = await Promise.race([reported.then((s) => ({ session: s })), exited, timedOut]);
      if (first === 'timeout') {
        await terminateProcess({ pid: launched.pid, startTime: launched.processStartTime, group: true, ...treeOf(sessionId) });
        const tail = tailLines(launched.logPath);
        throw new DeadlineExceededError(`session ${sessionId} did not report within ${timeoutMs} ms; stderr tail: ${tail || '(empty)'}`, {
          sessionId,
          logPath: launched.logPath,
        });
      }
      if ('exit' in first) {
        const { code, signal } = first.exit;
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        const tail = tailLines(launched.logPath);
        throw new AbortedError(`session ${sessionId} ${how} before reporting; last output:\n${tail || '(empty)'}`, {
          sessionId,
          exitCode: code ?? undefined,
          exitSignal: signal ?? undefined,
          logPath: launched.logPath,
        });
      }
      return first.session;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Learns promptly about the end of a session this runner spawned. */
  function watchExit(sessionId: string, launched: LaunchedSession): void {
    void launched.exited.then(({ code, signal }) => {
      const current = registry.get(sessionId);
      if (!current || current.pid !== launched.pid) return;
      markEnded(sessionId, { exitCode: code ?? undefined, exitSignal: signal ?? undefined });
    });
  }

  /** The runner merges `--workspace-root` and settings.json once at start (workspace-roots.ts). */
  function workspaceRoots(): string[] {
    return [...(opts.workspaceRoots ?? [])];
  }

  // ---------------------------------------------------------------- stop

  function stop(target: StopTarget): Promise<StopResult> {
    let session: SessionInfo | undefined;
    let label: string;
    if ('sessionId' in target) {
      if (typeof target.sessionId !== 'string' || target.sessionId.trim() === '') {
        return Promise.reject(new InvalidArgumentError('session id is required'));
      }
      label = `id ${target.sessionId}`;
      session = registry.get(target.sessionId);
      if (!session) {
        const ended = recentEnded.get(target.sessionId);
        if (ended) return Promise.resolve({ result: 'already-gone', sessionId: ended.id });
      }
    } else {
      if (!Number.isInteger(target.pid) || target.pid <= 0) {
        return Promise.reject(new InvalidArgumentError(`PID must be a positive integer, got ${String(target.pid)}`));
      }
      label = `PID ${target.pid}`;
      session = registry.findByPid(target.pid);
      if (!session) {
        let ended: SessionInfo | undefined;
        for (const s of recentEnded.values()) if (s.pid === target.pid) ended = s;
        if (ended) return Promise.resolve({ result: 'already-gone', sessionId: ended.id });
      }
    }
    if (!session) return Promise.reject(new NotFoundError(`no session with ${label}`));
    const existing = stopping.get(session.id);
    if (existing) return existing;
    const found = session;
    const p = (async (): Promise<StopResult> => {
      const group = isSameProcess(found.pid, found.processStartTime) ? stopGroupOf(found) : found.startedBy === 'runner';
      log.info({ sessionId: found.id, pid: found.pid, group }, 'stopping session');
      const r = await terminateProcess({ pid: found.pid, startTime: found.processStartTime, group, ...treeOf(found.id) });
      if (r === 'still-alive') throw new InternalError(`session ${found.id} (PID ${found.pid}) is still alive after SIGKILL`);
      // The exit watcher may already have recorded the exact exit status.
      markEnded(found.id, r === 'stopped' ? { exitSignal: 'SIGTERM' } : {});
      return { result: r, sessionId: found.id };
    })().finally(() => stopping.delete(found.id));
    stopping.set(found.id, p);
    return p;
  }

  // ---------------------------------------------------------------- reports

  function reportStarted(report: SessionReport): SessionInfo {
    if (closing) throw new UnavailableError('the runner is shutting down');
    const id = typeof report.sessionId === 'string' ? report.sessionId.trim() : '';
    if (id === '') throw new InvalidArgumentError('sessionId is required');
    if (!Number.isInteger(report.hostPid) || report.hostPid <= 0) {
      throw new InvalidArgumentError(`hostPid must be a positive integer, got ${String(report.hostPid)}`);
    }
    if (report.startedBy !== 'runner' && report.startedBy !== 'terminal') {
      throw new InvalidArgumentError(`startedBy must be 'runner' or 'terminal', got ${String(report.startedBy)}`);
    }
    const pid = report.hostPid;

    const waiting = pending.get(id);
    if (waiting) {
      if (!waiting.launched) throw new UnavailableError(`session ${id} is still being spawned; retry`);
      if (pid !== waiting.launched.pid && !isSelfOrDescendant(pid, waiting.launched.pid)) {
        throw new InvalidArgumentError(`session ${id} reported PID ${pid}, but the runner spawned PID ${waiting.launched.pid}`);
      }
      const session = registry.get(id);
      if (!session) throw new FailedPreconditionError(`session ${id} was stopped before it reported`);
      const running: SessionInfo = { ...session, state: 'running' };
      try {
        registry.put(running);
      } catch (err) {
        // Not recorded (disk full): the spawn fails with the same error and kills the process.
        waiting.reject(err as Error);
        throw err;
      }
      pending.delete(id);
      log.info({ sessionId: id, pid, startedBy: report.startedBy }, 'Session reported');
      emit('started', running);
      waiting.resolve(running);
      return { ...running };
    }

    const known = registry.get(id);
    if (known) {
      if (known.pid === pid || isSelfOrDescendant(pid, known.pid)) {
        log.info({ sessionId: id, pid, startedBy: known.startedBy }, 'Session reported');
        return { ...known };
      }
      throw new AlreadyExistsError(`session id ${id} is already in use by PID ${known.pid}`, { sessionId: id });
    }

    if (report.startedBy === 'runner') {
      // Claims to be runner-spawned, but this runner is not waiting for it: its spawn timed
      // out, was stopped, or belonged to a runner that died before it reported. Nobody will
      // ever stop it otherwise.
      // Only a process that is that session of this HAPI_HOME is ever signalled.
      const startTime = verifyReportedProcess({ pid, sessionId: id, startedBy: 'runner', hapiHome: opts.paths.home });
      log.warn({ sessionId: id, pid }, 'orphan session report: not spawned by this runner; stopping it');
      track(terminateProcess({ pid, startTime, group: leadsOwnGroup(pid), ...treeOf(id) }));
      throw new FailedPreconditionError(`session ${id} was not spawned by this runner (its spawn is over); it is being stopped`, {
        sessionId: id,
      });
    }

    if (recentEnded.has(id)) throw new AlreadyExistsError(`session id ${id} was already used`, { sessionId: id });
    // stop-session will signal this PID: it must be that session of this HAPI_HOME.
    const startTime = verifyReportedProcess({ pid, sessionId: id, startedBy: 'terminal', hapiHome: opts.paths.home });
    const session: SessionInfo = {
      id,
      pid,
      processStartTime: startTime,
      startedBy: 'terminal',
      directory: report.directory ?? '',
      agent: report.agent?.trim() || DEFAULT_AGENT,
      startedAt: report.startedAt instanceof Date && !Number.isNaN(report.startedAt.getTime()) ? report.startedAt : new Date(),
      state: 'running',
    };
    registry.put(session);
    log.info({ sessionId: id, pid, startedBy: 'terminal' }, 'Session reported');
    emit('started', session);
    return { ...session };
  }

  function reportEnded(end: SessionEnd): void {
    if (typeof end.sessionId !== 'string' || end.sessionId === '') return;
    // A spawn still waiting for its report is failed by its exit, not by this message.
    if (pending.has(end.sessionId)) return;
    markEnded(end.sessionId, { exitCode: end.exitCode, exitSignal: end.exitSignal || undefined });
  }

  function pruneDead(): SessionInfo[] {
    if (closed) return [];
    registry.retryUnsaved();
    const dead = registry
      .values()
      .filter((s) => s.state === 'running' && !isSameProcess(s.pid, s.processStartTime))
      .map((s) => s.id);
    if (dead.length === 0) return [];
    const removed = registry.removeMany(dead);
    if (removed.length > 0) log.info({ count: removed.length }, 'pruned dead sessions');
    return removed.map((s) => finishEnded(s, {}));
  }

  return {
    start,
    list() {
      // One cheap check per entry: a session killed since the last prune (even if not yet
      // reaped by its parent) or whose PID was reused is not shown.
      return registry
        .values()
        .filter((s) => isSameProcessCheap(s.pid, s.processStartTime))
        .map((s) => ({ ...s }));
    },
    spawn,
    stop,
    reportStarted,
    reportEnded,
    pruneDead,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      if (closing) return;
      closing = true;
      // Spawns still waiting never reported: they are failed and killed (no ghosts). Sessions
      // that reported keep running.
      for (const p of pending.values()) p.reject(new UnavailableError('the runner is shutting down'));
      await Promise.all([...inflightSpawns].map((p) => p.catch(() => undefined)));
      closed = true;
      await Promise.all([...background]);
      listeners.clear();
      // No final flush: every change was written when it happened, and by now a new runner
      // (hand-off, takeover) may own the registry file; rewriting it could erase its changes.
    },
    lastSpawnError: () => lastSpawnError,
    workspaceRoots,
    availableAgents: () => agents.availableAgents(),
  };
}
