/**
 * The files that make a service manager run the runner at boot: a systemd user unit and a
 * launchd LaunchAgent. Pure text generation (tests write them into a temporary directory and
 * check them; `systemd-analyze verify` checks the unit where it exists).
 *
 * Why each setting (README "Runner at boot"):
 * - the runner runs in the foreground (`runner start-sync`, Type=simple): the manager owns it;
 * - the PATH of the installing shell is written in, because services do not read login shells
 *   and the runner resolves agents (claude, codex, ...) on its PATH;
 * - KillMode=process / AbandonProcessGroup: stopping the runner never kills its sessions (they
 *   run detached and outlive it; on systemd each also gets its own scope, session-scope.ts);
 * - restart on failure, and on EXIT_SERVICE_RESTART, the hand-off to an upgraded build: Node
 *   cannot exec a new build in place, so the runner exits and the manager starts the new one;
 * - start limits, so a build that cannot start is not restarted in a tight loop.
 */
import { EXIT_SERVICE_RESTART } from '../../shared/exit-codes.js';
import type { ServiceManagerKind, ServicePaths } from '../../shared/paths.js';

/** Tells the runner it runs under a service manager (its value: systemd or launchd). */
export const SERVICE_ENV = 'HAPI_RUNNER_SERVICE';

/** systemd: at most START_LIMIT_BURST starts within START_LIMIT_INTERVAL_S, then the unit stays failed. */
export const START_LIMIT_BURST = 5;
export const START_LIMIT_INTERVAL_S = 300;
/** systemd: wait between a failure and the restart. */
export const RESTART_SEC = 5;
/** launchd: at least this many seconds between two starts (launchd's own throttle). */
export const LAUNCHD_THROTTLE_S = 10;

export interface ServiceSpec {
  paths: ServicePaths;
  /** The node executable (absolute). */
  nodePath: string;
  /** The hapi CLI file (absolute). */
  cliPath: string;
  /** PATH captured at install. */
  path: string;
  hapiHome: string;
  /** `--workspace-root` directories the runner is started with. */
  workspaceRoots: string[];
}

/** The runner's command line under the manager. */
export function serviceArgv(spec: ServiceSpec): string[] {
  return [spec.nodePath, spec.cliPath, 'runner', 'start-sync', ...spec.workspaceRoots.flatMap((r) => ['--workspace-root', r])];
}

function noControlChars(value: string): string {
  // A newline would end the setting and start another: refuse rather than escape.
  if (/[\0-\x1f\x7f]/.test(value)) throw new Error(`a control character in ${JSON.stringify(value)} cannot go into a service file`);
  return value;
}

/** One word of a systemd command line or assignment, quoted ("%" and "$" are specifiers there). */
function systemdQuote(value: string, expandsDollar: boolean): string {
  let v = noControlChars(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%');
  if (expandsDollar) v = v.replace(/\$/g, '$$$$');
  return `"${v}"`;
}

/** The systemd user unit. */
export function systemdUnit(spec: ServiceSpec): string {
  const exec = serviceArgv(spec).map((a) => systemdQuote(a, true)).join(' ');
  const env = (k: string, v: string) => `Environment=${systemdQuote(`${k}=${v}`, false)}`;
  return [
    '# Written by `hapi runner install-service`; remove with `hapi runner uninstall-service`.',
    '[Unit]',
    `Description=hapi runner (HAPI_HOME=${spec.hapiHome.replace(/%/g, '%%')})`,
    // A build that cannot start: at most START_LIMIT_BURST tries in START_LIMIT_INTERVAL_S, then failed.
    `StartLimitIntervalSec=${START_LIMIT_INTERVAL_S}`,
    `StartLimitBurst=${START_LIMIT_BURST}`,
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${exec}`,
    env('PATH', spec.path),
    env('HAPI_HOME', spec.hapiHome),
    env(SERVICE_ENV, 'systemd'),
    'Restart=on-failure',
    `RestartSec=${RESTART_SEC}`,
    // The hand-off to an upgraded build (src/runner/lifecycle/handoff.ts).
    `RestartForceExitStatus=${EXIT_SERVICE_RESTART}`,
    // Sessions outlive the runner: stopping the unit signals the runner only.
    'KillMode=process',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

function xml(value: string): string {
  return noControlChars(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The launchd LaunchAgent (property list). */
export function launchdPlist(spec: ServiceSpec): string {
  const str = (v: string) => `<string>${xml(v)}</string>`;
  const args = serviceArgv(spec).map((a) => `    ${str(a)}`).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by \`hapi runner install-service\`; remove with \`hapi runner uninstall-service\`. -->
<plist version="1.0">
<dict>
  <key>Label</key>
  ${str(spec.paths.name)}
  <key>ProgramArguments</key>
  <array>
${args}
  </array>
  <key>EnvironmentVariables</key>
  <dict>
    <key>PATH</key>
    ${str(spec.path)}
    <key>HAPI_HOME</key>
    ${str(spec.hapiHome)}
    <key>${SERVICE_ENV}</key>
    <string>launchd</string>
  </dict>
  <key>RunAtLoad</key>
  <true/>
  <!-- Restarted when it exits non-zero: a crash, or the hand-off to an upgraded build (exit ${EXIT_SERVICE_RESTART}). -->
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ThrottleInterval</key>
  <integer>${LAUNCHD_THROTTLE_S}</integer>
  <!-- Sessions outlive the runner: launchd must not kill its process group when it stops. -->
  <key>AbandonProcessGroup</key>
  <true/>
  <key>StandardOutPath</key>
  ${str(spec.paths.stdoutLog)}
  <key>StandardErrorPath</key>
  ${str(spec.paths.stderrLog)}
</dict>
</plist>
`;
}

/** The file for the given manager. */
export function serviceFile(kind: ServiceManagerKind, spec: ServiceSpec): string {
  return kind === 'systemd' ? systemdUnit(spec) : launchdPlist(spec);
}
