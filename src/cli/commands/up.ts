/**
 * `hapi up`: hapi on its embedded default. Starts a hub in this process (SQLite in HAPI_HOME),
 * makes sure this machine's runner runs and is connected to it with the owner token, prints
 * what to open or run next, and on Ctrl+C (or when its terminal closes) stops what it started
 * (the hub, and the runner if it started it). Sessions keep running.
 *
 * `--host` picks the listen address. Off loopback the hub serves TLS, with a certificate from
 * its private CA unless HAPI_HUB_TLS_CERT/KEY name one (`--no-tls` for a proxy that terminates
 * TLS on this machine): the owner token and every sign-in must not cross a network in clear.
 */
import { readFileSync } from 'node:fs';
import { writeJsonAtomic } from '../../shared/atomic-file.js';
import { hubConfig } from '../../shared/config.js';
import { FailedPreconditionError } from '../../shared/errors.js';
import { readAuthFile } from '../../shared/hub-client.js';
import { hapiPaths } from '../../shared/paths.js';
import { hubLogger, startLocalHub } from '../../hub/serve.js';
import { signInUrl } from '../../hub/domain/sign-in-links.js';
import { isLoopbackHost } from '../../hub/public-url.js';
import { ensurePrivateCa } from '../../hub/tls/private-ca.js';
import { selfCommand } from '../self-command.js';

export interface UpOptions {
  /** Listen address (HAPI_HUB_HOST otherwise). */
  host?: string;
  /** true: the private CA's TLS even on loopback; false: never; undefined: off loopback only. */
  tls?: boolean;
}

export async function up(opts: UpOptions = {}): Promise<number> {
  let resolveStop: ((why: string) => void) | undefined;
  const early: string[] = [];
  const onSignal = (sig: NodeJS.Signals) => (resolveStop ? resolveStop(`signal ${sig}`) : early.push(sig));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Its terminal closed: stop as for Ctrl+C. Killed by the hangup, the hub went with it and the
  // runner it started stayed, linked to a hub that no longer was.
  process.on('SIGHUP', onSignal);
  const hubEnv: NodeJS.ProcessEnv = { ...process.env };
  if (opts.host !== undefined) hubEnv.HAPI_HUB_HOST = opts.host;
  const config = hubConfig(hubEnv);
  const log = hubLogger('hapi-up', hubEnv);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const hapi = selfCommand();
  let caNote: string | undefined;
  if (config.tlsCert === undefined && (opts.tls === true || (opts.tls === undefined && !isLoopbackHost(config.host)))) {
    const publicHost = config.publicUrl ? new URL(config.publicUrl).hostname : undefined;
    const ca = await ensurePrivateCa(hapiPaths(hubEnv), { extraHosts: [config.host, ...(publicHost ? [publicHost] : [])] });
    hubEnv.HAPI_HUB_TLS_CERT = ca.cert;
    hubEnv.HAPI_HUB_TLS_KEY = ca.key;
    if (ca.made !== 'nothing') out(`made ${ca.made === 'ca' ? "the hub's private CA and " : ''}a TLS certificate for ${ca.sans.join(', ')}`);
    caNote = `TLS from the hub's private CA: trust ${ca.caCert} once on each phone or other machine (SHA-256 ${ca.caFingerprint}); see README "Reaching the hub from a phone"`;
  } else if (opts.tls === false && !isLoopbackHost(config.host)) {
    out(`warning: the hub listens on ${config.host} without TLS: use this only behind a proxy on this machine that terminates TLS`);
  }
  // One sign-in link, the QR code's below; not a second one among the hub's start lines.
  const running = await startLocalHub({ env: hubEnv, log, out, signInLink: false });
  const { hub, paths } = running;
  let startedRunner = false;
  try {
    const ownerToken = readFileSync(paths.hubOwnerTokenFile, 'utf8').trim();
    if (!ownerToken) throw new FailedPreconditionError(`owner token file ${paths.hubOwnerTokenFile} is empty`);
    const owner = await hub.core.authenticate(ownerToken);
    if (!readAuthFile(paths)) {
      writeJsonAtomic(paths.authFile, { hubUrl: hub.grpcUrl, token: ownerToken }, 0o600);
      out(`saved this hub and the owner token for hapi commands in ${paths.authFile}`);
    }
    // The runner trusts the private CA through $HAPI_HOME/tls/ca.pem (src/shared/tls-trust.ts).
    const env = { ...process.env, HAPI_API_URL: hub.grpcUrl, CLI_API_TOKEN: ownerToken };
    const { startRunner } = await import('../../runner/client/start.js');
    // A runner from before that is local only or linked elsewhere is replaced by one linked to
    // this hub; its sessions keep running and the new runner re-adopts them.
    const started = await startRunner({
      env,
      hubUrl: hub.grpcUrl,
      onReplace: (pid, why) => out(`runner pid ${pid} ${why}; restarting it linked to this hub (sessions keep running)`),
    });
    startedRunner = started.outcome === 'started';
    out(`runner ${startedRunner ? 'started' : 'already running'} (pid ${started.status.pid})`);

    // Wait (bounded) for the runner to register, so we can name its machine.
    const deadline = Date.now() + 10_000;
    let machine = (await hub.core.listMachines(owner)).find((m) => m.online && m.runnerState.pid === started.status.pid);
    while (!machine && Date.now() < deadline && early.length === 0) {
      await new Promise((r) => setTimeout(r, 100));
      machine = (await hub.core.listMachines(owner)).find((m) => m.online && m.runnerState.pid === started.status.pid);
    }
    if (machine) out(`machine ${machine.id} (${machine.metadata.displayName}) is online`);
    else out(`the runner has not registered with this hub yet; check \`${hapi} runner status\` and its log (\`${hapi} runner logs\`)`);
    out('');
    // The QR code's link is one of the hub's own (sign-in-links.ts), at the public address.
    const link = await hub.core.createSignInLink(owner);
    await printSignInLink(out, signInUrl(hub.publicUrl, link.code));
    out(`open ${hub.publicUrl}/ in a browser, or run:`);
    out(`  ${hapi} machines`);
    out(`  ${hapi} spawn --machine ${machine?.id ?? '<machine id>'} <directory>`);
    if (caNote) out(caNote);
    out('Ctrl+C stops the hub' + (startedRunner ? ' and the runner it started' : '') + ' (sessions keep running).');

    const why = await new Promise<string>((resolve) => {
      resolveStop = resolve;
      if (early.length) resolve(`signal ${early[0]}`);
    });
    log.info({ reason: why }, 'stopping');
    return 0;
  } finally {
    if (startedRunner) {
      const { stopRunnerProcess } = await import('../../runner/client/stop.js');
      await stopRunnerProcess({ reason: 'cli' }).catch((err: unknown) => log.warn({ err }, 'stopping the runner failed'));
    }
    await running.stop('hapi up stopped');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
}

/**
 * A fresh one-time sign-in link for the owner (10 minutes, once; never the token itself), as a
 * QR code for a phone's camera and as text. The QR encoder is loaded only here.
 */
async function printSignInLink(out: (line: string) => void, url: string): Promise<void> {
  // A CommonJS package: module.exports is the default export.
  const qr = (await import('qrcode')).default;
  const art = await qr.toString(url, { type: 'terminal', small: true, errorCorrectionLevel: 'L' });
  out('sign in on a phone: scan this (a one-time link, valid 10 minutes)');
  out(art.trimEnd());
  out(`  ${url}`);
}
