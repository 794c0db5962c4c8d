/**
 * The runner daemon (`hapi runner start-sync`, also what `hapi runner start` launches detached).
 *
 * Start order: signal handlers -> lock -> log file -> socket -> gRPC (session calls wait until
 * ready) -> HTTP gateway -> re-adopt sessions -> state file -> hub link -> ready -> heartbeat.
 * Shutdown runs in reverse: mark shutting-down on the hub and close the link, stop the heartbeat,
 * end open streams, stop the control servers (forced after a grace period), remove the state
 * file and the lock, exit. Sessions are never touched.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { createServer as createGrpcServer } from 'nice-grpc';
import { RunnerServiceDefinition } from '../contract/runner.js';
import { ensurePrivateDir } from '../shared/atomic-file.js';
import { hubLinkConfig, runnerConfig, type Env } from '../shared/config.js';
import { EXIT_ALREADY_RUNNING, EXIT_FAILURE, EXIT_OK } from '../shared/exit-codes.js';
import { errorMappingMiddleware } from '../shared/grpc-errors.js';
import { routeGrpcLogs } from '../shared/grpc-channel.js';
import { createLogger, ignoreStdioWriteErrors, logWriteHealth, type Logger } from '../shared/logger.js';
import { hapiPaths } from '../shared/paths.js';
import { processStartTime } from '../shared/proc.js';
import { formatUsLocaleTime } from '../shared/local-time.js';
import { CLI_VERSION, cliMtimeMs, cliPath } from '../shared/version.js';
import { acquireRunnerLock } from './lifecycle/runner-lock.js';
import { listenPrivately, prepareSocketPath } from './control-socket.js';
import { createRunnerGrpcService } from './grpc-service.js';
import { startGateway, type Gateway } from './http-gateway.js';
import { startHeartbeat, type Heartbeat } from './lifecycle/heartbeat.js';
import { createHandoff } from './lifecycle/handoff.js';
import { newRunnerLogPath, pruneRunnerLogs } from './lifecycle/runner-logs.js';
import { readStateFile, removeStateFileIfOwned, writeStateFile, type RunnerStateFile } from './lifecycle/state-file.js';
import type { HubLinkStatus } from '../contract/types.js';
import { createReadiness, createRunnerControl, type RunnerControl, type RunnerStatus, type ShutdownReason } from './runner-control.js';
import { createSessionManager, type RunnerSessionManager } from './sessions/session-manager.js';
import { resolveWorkspaceRoots } from './workspace-roots.js';

const EXIT_BY_REASON: Record<ShutdownReason, number> = {
  'os-signal': EXIT_OK,
  cli: EXIT_OK,
  hub: EXIT_OK,
  handoff: EXIT_OK,
  superseded: EXIT_OK,
  exception: EXIT_FAILURE,
  'startup-failure': EXIT_FAILURE,
};

export interface RunnerOptions {
  workspaceRoots: string[];
  /** Print logs human-readable to stderr too (foreground on a terminal). */
  foreground: boolean;
  env?: Env;
}

/** Interface the hub link offers the daemon (implemented in src/runner/hub-link). */
export interface DaemonHubLink {
  status(): HubLinkStatus;
  close(reason: ShutdownReason): Promise<void>;
}

/** Runs the runner until it shuts down; resolves with the process exit code. */
export async function runRunner(opts: RunnerOptions): Promise<number> {
  const env = opts.env ?? process.env;
  const startedAt = new Date();
  let shutdownStarted: Promise<number> | undefined;
  let requestShutdown: (reason: ShutdownReason) => Promise<number> = async () => 0;
  let log: Logger | undefined;

  // Signal handlers first, so a signal during start-up still shuts down cleanly.
  const onSignal = (sig: NodeJS.Signals) => {
    log?.info({ signal: sig }, 'signal received');
    void requestShutdown('os-signal');
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
    { version: CLI_VERSION, cliPath: myCliPath, cliMtimeMs: startMtime, home: paths.home, prunedLogs: pruned, heartbeatMs: config.heartbeatIntervalMs },
    'runner starting',
  );
  for (const w of config.warnings) rootLog.warn(w);

  // The crash handlers must not throw themselves (Node would exit at once with code 7,
  // leaving the lock, state file and socket behind): the shutdown always runs.
  const fatal = (err: unknown, msg: string) => {
    try {
      rootLog.fatal({ err }, msg);
    } catch {
      // the logger drops failed writes; this is belt and braces
    }
    void requestShutdown('exception');
  };
  process.on('uncaughtException', (err) => fatal(err, 'uncaught exception'));
  process.on('unhandledRejection', (err) => fatal(err, 'unhandled rejection'));

  const controlToken = randomBytes(32).toString('base64url');
  const workspaceRoots = resolveWorkspaceRoots(opts.workspaceRoots, paths.settingsFile, rootLog);
  const readiness = createReadiness();
  let lastHeartbeat: Date | undefined;
  let gateway: Gateway | undefined;
  let heartbeat: Heartbeat | undefined;
  let hubLink: DaemonHubLink | undefined;
  let sessions: RunnerSessionManager | undefined;
  const grpcServer = createGrpcServer().use(errorMappingMiddleware(rootLog.child({ c: 'grpc' })));

  const status = (): RunnerStatus => ({
    pid: process.pid,
    startedAt,
    cliVersion: CLI_VERSION,
    cliMtimeMs: startMtime,
    cliPath: myCliPath,
    httpPort: gateway?.port ?? 0,
    socketPath: paths.socket,
    lastHeartbeat,
    logPath,
    logWrites: logWriteHealth(rootLog) ?? { failing: false, droppedLines: 0 },
    hubLink: hubLink?.status() ?? { state: 'not-configured' },
    sessionCount: sessions?.list().length ?? 0,
    hapiHome: paths.home,
    workspaceRoots,
    ready: readiness.phase() === 'ready',
    lastSpawnError: sessions?.lastSpawnError(),
  });

  // Every transport (gRPC, the HTTP gateway, the hub link) calls this one facade.
  const control = createRunnerControl({ readiness, sessions: () => sessions, status, requestStop: (reason) => void requestShutdown(reason) });
  const grpcService = createRunnerGrpcService(control);
  let socketBound = false;

  requestShutdown = (reason) => {
    if (shutdownStarted) return shutdownStarted;
    shutdownStarted = (async () => {
      rootLog.info({ reason }, 'runner shutting down');
      readiness.set('stopping');
      const keepFiles = reason === 'superseded';
      try {
        await hubLink?.close(reason).catch((err) => rootLog.warn({ err }, 'closing hub link failed'));
        heartbeat?.stop();
        grpcService.endStreams();
        const graceful = grpcServer.shutdown();
        const forced = new Promise<void>((r) => setTimeout(r, 2_000).unref());
        await Promise.race([graceful, forced]);
        grpcServer.forceShutdown();
        await gateway?.close();
        await sessions?.close();
      } catch (err) {
        rootLog.error({ err }, 'error during shutdown');
      }
      if (!keepFiles) {
        removeStateFileIfOwned(paths.stateFile, process.pid);
        if (socketBound) rmSync(paths.socket, { force: true });
        lock.release();
      }
      const code = EXIT_BY_REASON[reason];
      rootLog.info({ reason, exitCode: code }, 'runner stopped');
      return code;
    })();
    return shutdownStarted;
  };

  try {
    await prepareSocketPath(paths.socket);
    grpcServer.add(RunnerServiceDefinition, grpcService.impl);
    await listenPrivately(paths.socket, () => grpcServer.listen(`unix://${paths.socket}`));
    socketBound = true;
    gateway = await startGateway({ control, token: controlToken, log: rootLog.child({ c: 'http' }) });
    const manager = createSessionManager({ paths, config, workspaceRoots, log: rootLog.child({ c: 'sessions' }) });
    sessions = manager;
    const adopted = await manager.start();
    const state: RunnerStateFile = {
      pid: process.pid,
      httpPort: gateway.port,
      startTime: formatUsLocaleTime(startedAt),
      startedWithCliVersion: CLI_VERSION,
      startedWithCliMtimeMs: startMtime,
      lastHeartbeat: formatUsLocaleTime(startedAt),
      runnerLogPath: logPath,
      socketPath: paths.socket,
      controlToken,
      startedAt: startedAt.toISOString(),
      processStartTime: processStartTime(process.pid),
      cliPath: myCliPath,
    };
    writeStateFile(paths.stateFile, state);
    hubLink = await startHubLink({ linkConfig, paths, log: rootLog, control, agents: manager.availableAgents() });
    rootLog.info(
      { pid: process.pid, socket: paths.socket, httpPort: gateway.port, adoptedSessions: adopted.length, workspaceRoots },
      'runner started',
    );
    readiness.set('ready');

    const handoff = createHandoff({
      cliPath: myCliPath,
      startArgs: opts.workspaceRoots.flatMap((r) => ['--workspace-root', r]),
      outputFile: logPath.replace(/\.log$/, '.handoff.log'),
      log: rootLog.child({ c: 'handoff' }),
    });
    heartbeat = startHeartbeat(
      config.heartbeatIntervalMs,
      async () => {
        // 1. prune sessions whose process is dead
        const dropped = manager.pruneDead();
        if (dropped.length) rootLog.info({ sessions: dropped.map((s) => s.id) }, 'pruned dead sessions');
        // 2. version check
        const current = cliMtimeMs(myCliPath);
        if (current !== startMtime) handoff.onVersionMismatch(startMtime, current);
        // 3. do we still own the state file?
        const read = readStateFile(paths.stateFile);
        if (read.kind === 'ok' && read.state.pid !== process.pid) {
          rootLog.warn({ owner: read.state.pid }, 'another runner owns the state file; exiting');
          void requestShutdown('superseded');
          return;
        }
        // 4. write lastHeartbeat
        lastHeartbeat = new Date();
        writeStateFile(paths.stateFile, { ...state, lastHeartbeat: formatUsLocaleTime(lastHeartbeat) });
      },
      rootLog.child({ c: 'heartbeat' }),
    );
  } catch (err) {
    rootLog.error({ err }, `runner failed to start: ${(err as Error).message}`);
    process.stderr.write(`hapi: runner failed to start: ${(err as Error).message}\n`);
    await requestShutdown('startup-failure');
    return EXIT_BY_REASON['startup-failure'];
  }

  return new Promise<number>((resolve) => {
    const wait = setInterval(() => {
      if (shutdownStarted) {
        clearInterval(wait);
        void shutdownStarted.then(resolve);
      }
    }, 50);
  });
}

interface HubLinkArgs {
  linkConfig: ReturnType<typeof hubLinkConfig>;
  paths: ReturnType<typeof hapiPaths>;
  log: Logger;
  control: RunnerControl;
  agents: string[];
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
    return { status: () => ({ state: 'not-configured' }), close: async () => undefined };
  }
  const { createHubLink } = await import('./hub-link/index.js');
  const link = createHubLink({
    config: args.linkConfig,
    paths: args.paths,
    log: args.log,
    control: args.control,
    metadata: { agents: args.agents },
  });
  return { status: () => link.status(), close: (reason) => link.close(reason) };
}
