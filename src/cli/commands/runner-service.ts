/** `hapi runner install-service [--print]` and `hapi runner uninstall-service`. */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { writeFileAtomic, ensurePrivateDir } from '../../shared/atomic-file.js';
import { InvalidArgumentError } from '../../shared/errors.js';
import { hapiPaths, servicePathsFor, type ServiceManagerKind, type ServicePaths } from '../../shared/paths.js';
import { cliPath } from '../../shared/version.js';
import { commandText, defaultManager, installedService, lingerEnabled, runManager, runManagerCommand } from '../../runner/service/service-control.js';
import { serviceFile, START_LIMIT_BURST, START_LIMIT_INTERVAL_S } from '../../runner/service/service-files.js';
import { startThroughService } from '../../runner/service/service-runner.js';
import { selfCommand } from '../self-command.js';

function managerOf(name: string | undefined): ServiceManagerKind {
  if (name === undefined) return defaultManager();
  if (name === 'systemd' || name === 'launchd') return name;
  throw new InvalidArgumentError(`--manager must be systemd or launchd, got ${JSON.stringify(name)}`);
}

const out = (s: string) => process.stdout.write(s);

function undoText(paths: ServicePaths): string {
  return `Undo with: ${selfCommand()} runner uninstall-service (removes ${paths.file})`;
}

export async function installService(opts: { print?: boolean; manager?: string; workspaceRoot: string[] }): Promise<void> {
  const env = process.env;
  const kind = managerOf(opts.manager);
  const paths = servicePathsFor(kind, env);
  const home = hapiPaths(env).home;
  const text = serviceFile(kind, {
    paths,
    nodePath: process.execPath,
    cliPath: cliPath(),
    // Services do not read login shells: the PATH the runner finds agents on is this one.
    path: env.PATH || '/usr/local/bin:/usr/bin:/bin',
    hapiHome: home,
    workspaceRoots: opts.workspaceRoot.map((r) => resolve(r)),
  });
  if (opts.print) {
    process.stderr.write(`# ${kind} ${kind === 'systemd' ? 'unit' : 'LaunchAgent'} ${paths.name}, to be written to ${paths.file}\n`);
    out(text);
    return;
  }
  mkdirSync(dirname(paths.file), { recursive: true });
  // launchd writes the runner's stdout and stderr there before the runner makes it.
  ensurePrivateDir(dirname(paths.stdoutLog));
  writeFileAtomic(paths.file, text, 0o644);
  out(`Wrote ${paths.file}\n`);
  const hint = `${kind === 'systemd' ? `Is a systemd user instance running (\`systemctl --user status\`)? Over ssh or in a container there may be none: \`loginctl enable-linger $USER\` starts one at boot.\n` : ''}${undoText(paths)}`;
  const started = await startThroughService(paths, { env, action: 'install', onCommand: (t) => out(`  $ ${t}\n`) }).catch((err: Error) => {
    err.message = `the service file is written, but ${err.message}`;
    if (!err.message.includes(undoText(paths))) err.message += `\n${undoText(paths)}`;
    throw err;
  });
  if (started.replacedPid) out(`Stopped runner PID ${started.replacedPid}, which ran outside the service (its sessions keep running)\n`);
  out(`Runner running under ${kind} as ${paths.name} (PID ${started.status.pid}); it starts at ${kind === 'systemd' ? 'boot or login' : 'login'} and restarts after a crash\n`);
  const hapi = selfCommand();
  out(`\`${hapi} runner stop\` and \`${hapi} runner start\` now act through ${kind}.\n`);
  if (kind === 'systemd') {
    out(`A build that cannot start is retried at most ${START_LIMIT_BURST} times in ${START_LIMIT_INTERVAL_S} s, then the unit stays failed until \`${hapi} runner start\`.\n`);
    const linger = await lingerEnabled(env);
    if (linger !== true) {
      out(
        `Linger is ${linger === false ? 'off' : 'unknown'} for this user: without it, your systemd user instance (and this runner) starts at your first login and stops at your last logout.\n` +
          `To run the runner from boot, logged in or not: loginctl enable-linger ${env.USER || '$USER'}   (some systems need sudo)\n`,
      );
    }
  }
  out(`${undoText(paths)}\n`);
}

export async function uninstallService(opts: { manager?: string }): Promise<void> {
  const env = process.env;
  const paths = opts.manager ? servicePathsFor(managerOf(opts.manager), env) : installedService(env);
  if (!paths || !existsSync(paths.file)) {
    out(`No runner service installed for HAPI_HOME=${hapiPaths(env).home}${paths ? ` (no ${paths.file})` : ''}\n`);
    return;
  }
  // Disabling also stops the runner (sessions keep running: KillMode=process / AbandonProcessGroup).
  await runManager(paths, 'uninstall', { env, onCommand: (t) => out(`  $ ${t}\n`) });
  rmSync(paths.file, { force: true });
  out(`Removed ${paths.file}\n`);
  if (paths.kind === 'systemd') {
    const reload = ['systemctl', '--user', 'daemon-reload'];
    out(`  $ ${commandText(reload)}\n`);
    await runManagerCommand(reload, env);
  }
  out(`The runner is stopped (its sessions keep running); \`${selfCommand()} runner start\` starts it without a service manager.\n`);
}
