/**
 * `hapi hub` in the foreground: signal handlers first, then the hub, then a line per
 * listening address on stdout. Resolves with the exit code when a signal stops it.
 */
import { existsSync, rmSync } from 'node:fs';
import { signInUrl } from './domain/sign-in-links.js';
import { hubConfig, type Env } from '../shared/config.js';
import { webConfig } from '../shared/config-web.js';
import { writeJsonAtomic, ensurePrivateDir } from '../shared/atomic-file.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { hapiPaths, type HapiPaths } from '../shared/paths.js';
import type { HubStateFile } from '../shared/hub-client.js';
import { startHub, type RunningHub, type StartHubOptions } from './server.js';
import { webPage } from './web/index.js';
import { newLogPath, pruneLogs } from '../shared/log-files.js';

export interface ServeOptions {
  env?: Env;
  log?: Logger;
  /** Default: the web page (src/hub/web) in front of the REST view. */
  wrapHttpHandler?: StartHubOptions['wrapHttpHandler'];
  /** Where to print the human-readable start lines (stdout by default). */
  out?: (line: string) => void;
  /** Print a one-time sign-in link among the start lines (default true; `hapi up` prints its own, as a QR code). */
  signInLink?: boolean;
}

/**
 * The hub's logger: JSON lines to a new logs/hub-<YYYYMMDD-HHMMSS>.log (`hapi hub logs`; the
 * newest HAPI_HUB_LOG_KEEP are kept) and human-readable lines on stderr.
 */
export function hubLogger(name: string, env: Env = process.env): Logger {
  const config = hubConfig(env);
  const paths = hapiPaths(env);
  ensurePrivateDir(paths.home);
  const file = newLogPath('hub', paths.logsDir);
  pruneLogs('hub', paths.logsDir, config.logKeep, file);
  return createLogger({ name, level: config.logLevel, file, pretty: true });
}

/** Starts the hub and records it in paths.hubStateFile; the caller owns shutdown. */
export async function startLocalHub(opts: ServeOptions = {}): Promise<{ hub: RunningHub; paths: HapiPaths; stop(reason: string): Promise<void> }> {
  const env = opts.env ?? process.env;
  const config = hubConfig(env);
  const paths = hapiPaths(env);
  ensurePrivateDir(paths.home);
  const log = opts.log ?? hubLogger('hub', env);
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  // Read before the hub starts, so a bad web setting stops it with the variable's name.
  const wrapHttpHandler = opts.wrapHttpHandler ?? webPage({ config: webConfig(env), log, databaseUrl: config.databaseUrl });
  const hub = await startHub({ config, paths, log, wrapHttpHandler });
  const state: HubStateFile = { pid: process.pid, grpcUrl: hub.grpcUrl, httpUrl: hub.httpUrl, startedAt: new Date().toISOString() };
  writeJsonAtomic(paths.hubStateFile, state);
  out(`hub gRPC listening on ${hub.grpcUrl}  (runners and clients: HAPI_API_URL=${hub.grpcUrl})`);
  out(`hub HTTP listening on ${hub.httpUrl}  (REST: ${hub.httpUrl}/api/v1/machines)`);
  out(`hub web page for people and phones: ${hub.publicUrl}/`);
  out(`hub database: ${hub.store.path}`);
  if (hub.peer) out(`hub peer service listening on ${hub.peer.listen}  (replica ${hub.peer.replicaId}; the other replicas dial ${hub.peer.advertise})`);
  for (const line of await ownerLines(hub, paths, opts.signInLink ?? true)) out(line);
  return {
    hub,
    paths,
    async stop(reason) {
      await hub.close(reason);
      rmSync(paths.hubStateFile, { force: true });
    },
  };
}

/**
 * What every start says about the owner token: the token itself on the start that made it;
 * afterwards where it is and how to show it; and, `withLink`, a fresh one-time sign-in link for the page.
 */
export async function ownerLines(hub: RunningHub, paths: HapiPaths, withLink: boolean): Promise<string[]> {
  const lines: string[] = [];
  if (hub.createdOwnerToken) {
    lines.push(`owner token (shown once; saved 0600 in ${paths.hubOwnerTokenFile}):`, `  ${hub.createdOwnerToken}`);
  } else if (existsSync(paths.hubOwnerTokenFile)) {
    lines.push(`owner token: in ${paths.hubOwnerTokenFile}; show it with \`hapi hub token owner\``);
  } else {
    lines.push(`owner token: ${paths.hubOwnerTokenFile} is missing (the hub keeps only its hash); sign in with the link below`);
  }
  if (!withLink) return lines;
  const link = await hub.core.ownerSignInLink();
  if (link) {
    const minutes = Math.round((link.expiresAt.getTime() - Date.now()) / 60_000);
    lines.push(`sign in on the web page (one-time link, expires in ${minutes} min): ${signInUrl(hub.publicUrl, link.code)}`);
  }
  return lines;
}

/** Runs the hub until SIGINT/SIGTERM; resolves with the exit code. */
export async function serveHub(opts: ServeOptions = {}): Promise<number> {
  let stopRequested: ((sig: string) => void) | undefined;
  const pendingSignal: string[] = [];
  const onSignal = (sig: NodeJS.Signals) => (stopRequested ? stopRequested(sig) : pendingSignal.push(sig));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const running = await startLocalHub(opts);
    const sig = await new Promise<string>((resolve) => {
      stopRequested = resolve;
      if (pendingSignal.length) resolve(pendingSignal[0]!);
    });
    await running.stop(`signal ${sig}`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
