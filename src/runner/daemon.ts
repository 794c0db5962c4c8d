/**
 * The runner daemon (`hapi runner start-sync`, also what `hapi runner start` launches detached).
 * This is the composition root: it wires the parts in their start order and their shutdown in
 * the reverse order, and waits for a close reason. What each part does lives in its own file:
 * lock, state file, logs, heartbeat, hand-off and shutdown in lifecycle/, sessions in
 * sessions/, the transports next to this file.
 *
 * Start order: signal handlers -> lock -> log file -> socket + gRPC (session calls wait until
 * ready) -> HTTP gateway -> re-adopt sessions -> state file -> hub link -> ready -> heartbeat.
 * Shutdown, in reverse: stop the heartbeat, stop taking session calls, close the session
 * manager (a spawn still waiting for its session's report kills that half-started session and
 * answers Unavailable), answer every other call in flight, mark shutting-down on the hub and
 * close the link, end open streams and stop the control servers (forced after a grace period),
 * remove the state file, the socket and the lock, exit with the reason's code. Sessions that
 * reported are never touched.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { createServer as createGrpcServer } from 'nice-grpc';
import { RunnerServiceDefinition } from '../contract/runner.js';
import { ensurePrivateDir } from '../shared/atomic-file.js';
import { hubLinkConfig, runnerConfig, type Env } from '../shared/config.js';
import { EXIT_ALREADY_RUNNING } from '../shared/exit-codes.js';
import { errorMappingMiddleware } from '../shared/grpc-errors.js';
import { routeGrpcLogs } from '../shared/grpc-channel.js';
import { createLogger, ignoreStdioWriteErrors, logWriteHealth, type Logger } from '../shared/logger.js';
import { hapiPaths, sessionSocketPathFor } from '../shared/paths.js';
import { CLI_VERSION, cliMtimeMs, cliPath } from '../shared/version.js';
import { listenPrivately, prepareSocketPath } from './control-socket.js';
import { createRunnerGrpcService } from './grpc-service.js';
import { startGateway, type Gateway } from './http-gateway.js';
import { createHandoff } from './lifecycle/handoff.js';
import { startHeartbeat, type Heartbeat } from './lifecycle/heartbeat.js';
import { acquireRunnerLock } from './lifecycle/runner-lock.js';
import { newRunnerLogPath, pruneRunnerLogs } from './lifecycle/runner-logs.js';
import { createShutdown, type Shutdown, type ShutdownStep } from './lifecycle/shutdown.js';
import { newRunnerState, removeStateFileIfOwned, writeOwnStateFile } from './lifecycle/state-file.js';
import type { HubLinkStatus, SessionActivityInfo } from '../contract/types.js';
import { createReadiness, createRunnerControl, type RunnerControl, type RunnerStatus, type ShutdownReason } from './runner-control.js';
import { createSessionManager, type RunnerSessionManager } from './sessions/session-manager.js';
import { createRunnerTerminals, type RunnerTerminals } from './terminals/runner-terminals.js';
import { createSessionScopes } from './service/session-scope.js';
import { resolveWorkspaceRoots } from './workspace-roots.js';
import { createRunnerCounters, type RunnerCounters } from './runner-counters.js';

/** The self-check of a runner that takes over from a running one (lifecycle/takeover.ts). */
export { preflightRunner } from './lifecycle/preflight.js';

export interface RunnerOptions {
  workspaceRoots: string[];
  /** Print logs human-readable to stderr too (foreground on a terminal). */
  foreground: boolean;
  env?: Env;
}

/** Interface the hub link offers the daemon (implemented in src/runner/hub-link). */
export interface DaemonHubLink {
  status(): HubLinkStatus;
  activityChanged(sessionId: string): void;
  close(reason: ShutdownReason): Promise<void>;
}

/** Runs the runner until it shuts down; resolves with the process exit code. */
export async function runRunner(opts: RunnerOptions): Promise<number> {
  const env = opts.env ?? process.env;
  const startedAt = new Date();
  let shutdown: Shutdown | undefined;
  let log: Logger | undefined;

  // Signal handlers first, so a signal during start-up still shuts down cleanly.
  const onSignal = (sig: NodeJS.Signals) => {
    log?.info({ signal: sig }, 'signal received');
    void shutdown?.request('os-signal');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', () => log?.info('SIGHUP ignored'));
  // Logging never kills the runner (src/shared/logger.ts); neither does a closed stderr pipe.
  ignoreStdioWriteErrors();

  const config = runnerConfig(env);
  const linkConfig = hubLinkConfig(env);
  const paths = hapiPaths(env);
  ensurePrivateDir(paths.home);

  const lock = acquireRunnerLock(paths.lockFile);
  if (!lock.acquired) {
    process.stderr.write(`hapi: runner already running (PID ${lock.owner.pid || 'unknown'})\n`);
    return EXIT_ALREADY_RUNNING;
  }

  ensurePrivateDir(paths.logsDir);
  const logPath = newRunnerLogPath(paths.logsDir);
  log = createLogger({ name: 'runner', level: config.logLevel, file: logPath, pretty: opts.foreground && process.stderr.isTTY });
  const rootLog = log;
  routeGrpcLogs(rootLog.child({ c: 'grpc' }));
  const pruned = pruneRunnerLogs(paths.logsDir, config.logKeep, logPath);
  const myCliPath = cliPath();
  const startMtime = cliMtimeMs(myCliPath);
  rootLog.info(
    { version: CLI_VERSION, cliPath: myCliPath, cliMtimeMs: startMtime, home: paths.home, prunedLogs: pruned, heartbeatMs: config.heartbeatIntervalMs, serviceManager: config.serviceManager ?? null },
    'runner starting',
  );
  for (const w of config.warnings) rootLog.warn(w);

  const controlToken = randomBytes(32).toString('base64url');
  const workspaceRoots = resolveWorkspaceRoots(opts.workspaceRoots, paths.settingsFile, rootLog);
  const readiness = createReadiness();
  let gateway: Gateway | undefined;
  let heartbeat: Heartbeat | undefined;
  let hubLink: DaemonHubLink | undefined;
  let sessions: RunnerSessionManager | undefined;
  let terminals: RunnerTerminals | undefined;
  let socketBound = false;
  const grpcServer = createGrpcServer().use(errorMappingMiddleware(rootLog.child({ c: 'grpc' })));

  const counters = createRunnerCounters();
  const status = (): RunnerStatus => ({
    pid: process.pid,
    startedAt,
    cliVersion: CLI_VERSION,
    cliMtimeMs: startMtime,
    cliPath: myCliPath,
    httpPort: gateway?.port ?? 0,
    socketPath: paths.socket,
    lastHeartbeat: heartbeat?.lastBeat(),
    logPath,
    logWrites: logWriteHealth(rootLog) ?? { failing: false, droppedLines: 0 },
    hubLink: hubLink?.status() ?? { state: 'not-configured' },
    // Counted only when read: it checks each session's process in /proc, and the hub link reads
    // the status for its pid and port after every relayed call and session event.
    get sessionCount() {
      return sessions?.list().length ?? 0;
    },
    hapiHome: paths.home,
    workspaceRoots,
    ready: readiness.phase() === 'ready',
    lastSpawnError: sessions?.lastSpawnError(),
    counters: { ...counters.snapshot(), logWriteFailures: logWriteHealth(rootLog)?.droppedLines ?? 0 },
  });
  // Every transport (gRPC, the HTTP gateway, the hub link) calls this one facade.
  const control = createRunnerControl({
    readiness,
    sessions: () => sessions,
    terminals: () => terminals,
    status,
    counters,
    requestStop: (reason) => void shutdown!.request(reason),
    onActivityChanged: (sessionId) => hubLink?.activityChanged(sessionId),
  });
  const grpcService = createRunnerGrpcService(control);

  // The reverse of the start order, except that the session manager closes before the hub link
  // and the transports: they start before it (so early calls wait for "ready" instead of
  // failing), but the calls they carry must be answered before they close, and a spawn in
  // flight is only over once the manager has killed its half-started session. The files go
  // last: clients find the runner by them.
  const stopSteps = (): ShutdownStep[] => [
    { name: 'heartbeat', run: () => heartbeat?.stop() },
    { name: 'readiness', run: () => readiness.set('stopping') },
    // Before any transport closes, every call in flight gets its answer: spawns still waiting
    // for their session's report fail with Unavailable once their half-started session's tree
    // is killed (the session manager's close), the others finish within a grace or get
    // Unavailable. The hub link still carries the answers of relayed calls.
    { name: 'sessions', run: () => sessions?.close() },
    { name: 'terminals', run: () => terminals?.close() },
    { name: 'calls in flight', run: () => control.answerInFlight(config.sessionStopGraceMs + 1_000) },
    { name: 'hub link', run: (reason) => hubLink?.close(reason) },
    {
      name: 'grpc',
      run: async () => {
        grpcService.endStreams();
        const forced = new Promise<void>((r) => setTimeout(r, 2_000).unref());
        await Promise.race([grpcServer.shutdown(), forced]);
        grpcServer.forceShutdown();
      },
    },
    { name: 'http gateway', run: () => gateway?.close() },
    { name: 'state file', sharedFile: true, run: () => removeStateFileIfOwned(paths.stateFile, process.pid) },
    { name: 'socket', sharedFile: true, run: () => socketBound && rmSync(paths.socket, { force: true }) },
    { name: 'lock', sharedFile: true, run: () => lock.release() },
  ];
  // The shutdown first lets the start step in flight finish (see checkpoint below).
  shutdown = createShutdown({ steps: stopSteps, log: rootLog, before: () => startup });

  // The crash handlers must not throw themselves (Node would exit at once with code 7,
  // leaving the lock, state file and socket behind): the shutdown always runs.
  const fatal = (err: unknown, msg: string) => {
    try {
      rootLog.fatal({ err }, msg);
    } catch {
      // the logger drops failed writes; this is belt and braces
    }
    void shutdown!.request('exception');
  };
  process.on('uncaughtException', (err) => fatal(err, 'uncaught exception'));
  process.on('unhandledRejection', (err) => fatal(err, 'unhandled rejection'));

  // Each start step checks whether a shutdown was requested meanwhile; the shutdown waits for
  // the step in flight, so it never runs while a part is half-started, and stops what started.
  const checkpoint = () => {
    if (shutdown!.reason()) throw new StartAborted();
  };
  const startup = (async () => {
    await prepareSocketPath(paths.socket, env);
    grpcServer.add(RunnerServiceDefinition, grpcService.impl);
    await listenPrivately(paths.socket, () => grpcServer.listen(`unix://${paths.socket}`));
    socketBound = true;
    checkpoint();
    gateway = await startGateway({ control, token: controlToken, log: rootLog.child({ c: 'http' }) });
    checkpoint();
    const manager = createSessionManager({
      paths,
      config,
      workspaceRoots,
      log: rootLog.child({ c: 'sessions' }),
      // Under systemd, each session in its own scope: stopping the unit never reaches it.
      launchPrefix: createSessionScopes({ enabled: config.serviceManager === 'systemd', log: rootLog.child({ c: 'sessions' }) }),
    });
    // Before the sessions are re-adopted, so each adopted one is looked at (its terminal).
    const liveTerminals = createRunnerTerminals({
      endedDir: paths.endedSessionsDir,
      keepMs: config.endedSessionKeepMs,
      socketFor: (id) => sessionSocketPathFor(paths.home, id, env),
      log: rootLog.child({ c: 'terminals' }),
    });
    terminals = liveTerminals;
    manager.subscribe((e) => liveTerminals.onSessionEvent(e));
    sessions = manager;
    const adopted = await manager.start();
    checkpoint();
    const stateFile = writeOwnStateFile(
      paths.stateFile,
      newRunnerState({
        pid: process.pid,
        httpPort: gateway.port,
        startedAt,
        cliVersion: CLI_VERSION,
        cliPath: myCliPath,
        cliMtimeMs: startMtime,
        runnerLogPath: logPath,
        socketPath: paths.socket,
        controlToken,
      }),
    );
    hubLink = await startHubLink({
      linkConfig,
      paths,
      log: rootLog,
      control,
      agents: () => manager.availableAgents(),
      agentsRefreshMs: config.heartbeatIntervalMs,
      sessionActivity: (fresh, only) => liveTerminals.activity(fresh, only),
      counters,
    });
    checkpoint();
    rootLog.info(
      { socket: paths.socket, httpPort: gateway.port, adoptedSessions: adopted.length, workspaceRoots },
      'runner started',
    );
    readiness.set('ready');
    const handoff = createHandoff({
      cliPath: myCliPath,
      startMtimeMs: startMtime,
      startArgs: opts.workspaceRoots.flatMap((r) => ['--workspace-root', r]),
      outputFile: logPath.replace(/\.log$/, '.handoff.log'),
      log: rootLog.child({ c: 'handoff' }),
      // The service manager owns this runner: it hands off by exiting, and the unit restarts it.
      serviceRestart: config.serviceManager ? () => void shutdown!.request('service-restart') : undefined,
    });
    heartbeat = startHeartbeat(config.heartbeatIntervalMs, {
      sessions: manager,
      handoff,
      stateFile,
      onSuperseded: () => void shutdown!.request('superseded'),
      log: rootLog.child({ c: 'heartbeat' }),
    });
  })().then(
    () => undefined,
    (err: unknown) => err,
  );

  const failure = await startup;
  if (failure !== undefined && !(failure instanceof StartAborted)) {
    rootLog.error({ err: failure }, `runner failed to start: ${(failure as Error).message}`);
    process.stderr.write(`hapi: runner failed to start: ${(failure as Error).message}\n`);
    void shutdown.request('startup-failure');
  }
  // The close reason: whoever requests the shutdown first (signal, CLI, hub, hand-off, ...).
  return shutdown.done;
}

/** Thrown at a start checkpoint when a shutdown was requested during start-up. */
class StartAborted extends Error {}

interface HubLinkArgs {
  linkConfig: ReturnType<typeof hubLinkConfig>;
  paths: ReturnType<typeof hapiPaths>;
  log: Logger;
  control: RunnerControl;
  /** Looked up only by a link (before each hello, then every agentsRefreshMs): it walks PATH, which a runner without a hub skips. */
  agents: () => string[];
  agentsRefreshMs: number;
  /** The live terminals' last output and last line, reported to the hub for the page's list. */
  sessionActivity: (fresh: boolean, only?: string[]) => Promise<SessionActivityInfo[]>;
  counters: RunnerCounters;
}

/**
 * Opens the link to the hub (one MachineService.Connect stream, reconnecting forever). With no
 * token configured the link stays 'not-configured' and the runner works locally.
 */
async function startHubLink(args: HubLinkArgs): Promise<DaemonHubLink> {
  // The link's code (the hub's whole contract, ~150 KB of generated code) is loaded only when a
  // token may be configured: an idle runner without a hub stays small (bench/idle.mjs).
  if (!args.linkConfig.token && !existsSync(args.paths.authFile)) {
    args.log.child({ c: 'hub-link' }).info('no hub token (CLI_API_TOKEN or `hapi auth login`): not connecting to a hub');
    return { status: () => ({ state: 'not-configured' }), activityChanged: () => undefined, close: async () => undefined };
  }
  const { createHubLink } = await import('./hub-link/index.js');
  const link = createHubLink({
    config: args.linkConfig,
    paths: args.paths,
    log: args.log,
    control: args.control,
    agents: args.agents,
    agentsRefreshMs: args.agentsRefreshMs,
    sessionActivity: args.sessionActivity,
    counters: args.counters,
  });
  return { status: () => link.status(), activityChanged: (sessionId) => link.activityChanged(sessionId), close: (reason) => link.close(reason) };
}
