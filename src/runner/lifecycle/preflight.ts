/**
 * The self-check a new runner passes before it takes over from a running one (takeover.ts): it
 * proves this build can run the daemon without touching what the running runner owns (lock,
 * socket, state file, session registry). Loading this module already proves that the daemon's
 * lazy bundle loads; the check adds what start-up would need later:
 * - the configuration parses (a bad value would stop the daemon at start);
 * - HAPI_HOME and its logs directory exist (0700) and a file can be written there;
 * - the hub link's module loads, when this runner will link to a hub (it is loaded lazily);
 * - the gRPC server can be built with the runner's service (grpc-js and the contract fit);
 * - the CLI file that session processes run is readable.
 * Nothing here stays running: a failing check throws with a message naming what failed.
 */
import { accessSync, constants, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer as createGrpcServer } from 'nice-grpc';
import { RunnerServiceDefinition } from '../../contract/runner.js';
import { ensurePrivateDir } from '../../shared/atomic-file.js';
import { hubLinkConfig, runnerConfig, type Env } from '../../shared/config.js';
import { FailedPreconditionError } from '../../shared/errors.js';
import { hapiPaths } from '../../shared/paths.js';
import { cliPath } from '../../shared/version.js';
import { createRunnerGrpcService } from '../grpc-service.js';
import { createReadiness, createRunnerControl } from '../runner-control.js';

export interface PreflightReport {
  /** The hub link's module was loaded (a hub token may be configured). */
  hubLinkLoaded: boolean;
}

/** Runs the self-check; throws FailedPreconditionError naming the step that failed. */
export async function preflightRunner(env: Env = process.env): Promise<PreflightReport> {
  const step = async <T>(what: string, run: () => T | Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw new FailedPreconditionError(`self-check failed: ${what}: ${(err as Error)?.message ?? String(err)}`);
    }
  };
  await step('configuration', () => runnerConfig(env));
  const link = await step('hub link configuration', () => hubLinkConfig(env));
  const paths = hapiPaths(env);
  await step(`writing in ${paths.logsDir}`, () => {
    ensurePrivateDir(paths.home);
    ensurePrivateDir(paths.logsDir);
    const probe = join(paths.logsDir, `.preflight-${process.pid}`);
    try {
      writeFileSync(probe, 'ok\n', { mode: 0o600 });
    } finally {
      rmSync(probe, { force: true });
    }
  });
  // The same condition as the daemon's startHubLink: only then is the link's code needed.
  const needsHubLink = Boolean(link.token) || existsSync(paths.authFile);
  if (needsHubLink) {
    await step('loading the hub link', async () => {
      const mod = await import('../hub-link/index.js');
      if (typeof mod.createHubLink !== 'function') throw new Error('the hub link module has no createHubLink');
    });
  }
  await step('building the gRPC service', () => {
    const control = createRunnerControl({
      readiness: createReadiness(),
      sessions: () => undefined,
      status: () => {
        throw new Error('not running');
      },
      requestStop: () => undefined,
    });
    const server = createGrpcServer();
    server.add(RunnerServiceDefinition, createRunnerGrpcService(control).impl);
    server.forceShutdown();
  });
  await step(`reading the CLI file ${cliPath()}`, () => accessSync(cliPath(), constants.R_OK));
  return { hubLinkLoaded: needsHubLink };
}
