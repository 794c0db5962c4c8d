/**
 * `hapi doctor`'s hub checks, with the hub this CLI uses (HAPI_API_URL / CLI_API_TOKEN, else
 * `hapi auth login`'s file): configured, reachable, token accepted (one WhoAmI call), the clock's
 * skew against the hub's (WhoAmIResponse.server_time), and whether the runner's own link is up.
 */
import type { GetStatusResponse } from '../../contract/runner.js';
import { hubLinkStateFromProto } from '../../contract/runner.js';
import { isHapiError } from '../../shared/errors.js';
import { resolveHubCredentials, withHub } from '../../shared/hub-client.js';
import type { HapiPaths } from '../../shared/paths.js';
import { check, type CheckResult } from './check.js';

/** Past this, expiry checks (sign-in data, links, TLS) start to go wrong. */
const SKEW_WARN_MS = 5_000;
const SKEW_FAIL_MS = 60_000;
const CLOCK_FIX = 'turn on time sync (Linux: `timedatectl set-ntp true`; macOS: System Settings > General > Date & Time)';

export async function hubChecks(paths: HapiPaths, runner: GetStatusResponse | undefined, timeoutMs: number): Promise<CheckResult[]> {
  const creds = resolveHubCredentials(paths);
  const linkState = runner?.hubLink ? hubLinkStateFromProto(runner.hubLink.state) : undefined;
  if (!creds.token) {
    const results = [check('hub', 'hub', 'skip', `no hub configured: this machine works locally only (hub URL would be ${creds.url})`, 'hapi auth login --hub <url> --token <token>')];
    if (linkState && linkState !== 'not-configured') results.push(linkCheck(runner!, linkState));
    return results;
  }
  const results: CheckResult[] = [];
  const before = Date.now();
  try {
    const who = await withHub(creds, (c) => c.hub.whoAmI({}, { signal: AbortSignal.timeout(timeoutMs) }));
    const after = Date.now();
    results.push(check('hub', 'hub', 'ok', `reachable at ${creds.url} (${after - before} ms)`));
    results.push(check('hub-token', 'hub token', 'ok', `accepted (from ${creds.tokenSource}): namespace ${who.namespace}${who.owner ? ', owner' : ''}`));
    results.push(clockCheck(who.serverTime, before, after));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (isHapiError(err) && err.kind === 'Unauthenticated') {
      results.push(check('hub', 'hub', 'ok', `reachable at ${creds.url}`));
      const fix = creds.tokenSource === 'CLI_API_TOKEN' ? 'set CLI_API_TOKEN to a valid token, or unset it and `hapi auth login --token <token>`' : 'hapi auth login --token <token>';
      results.push(check('hub-token', 'hub token', 'fail', `the hub refused the token from ${creds.tokenSource} (revoked, or for another hub)`, fix));
    } else {
      results.push(check('hub', 'hub', 'fail', message, `start the hub (\`hapi hub\` or \`hapi up\`), or point at the right one: \`hapi auth login --hub <url> --token <token>\``));
      results.push(check('hub-token', 'hub token', 'skip', 'not checked: the hub did not answer'));
    }
    results.push(check('clock', 'clock', 'skip', 'not checked: needs an answer from the hub'));
  }
  if (linkState) results.push(linkCheck(runner!, linkState));
  return results;
}

/** The hub's time against the middle of the call. */
export function clockCheck(serverTime: Date | undefined, before: number, after: number): CheckResult {
  if (!serverTime) return check('clock', 'clock', 'skip', 'the hub is too old to tell its time');
  // Positive: the hub's clock is ahead of this one.
  const offset = serverTime.getTime() - (before + after) / 2;
  const abs = Math.abs(offset);
  const what = `this clock is ${(abs / 1000).toFixed(1)} s ${offset > 0 ? 'behind' : 'ahead of'} the hub's (±${Math.ceil((after - before) / 2)} ms)`;
  if (abs > SKEW_FAIL_MS) return check('clock', 'clock', 'fail', what, CLOCK_FIX);
  if (abs > SKEW_WARN_MS) return check('clock', 'clock', 'warn', what, CLOCK_FIX);
  return check('clock', 'clock', 'ok', what);
}

function linkCheck(runner: GetStatusResponse, state: string): CheckResult {
  const link = runner.hubLink!;
  if (state === 'connected') return check('runner-hub-link', 'runner\'s hub link', 'ok', `connected to ${link.hubUrl} as machine ${link.machineId} (namespace ${link.namespace})`);
  if (state === 'not-configured') {
    return check('runner-hub-link', 'runner\'s hub link', 'warn', 'the runner has no hub token, though this shell has one: it was started before `hapi auth login`', 'hapi runner stop && hapi runner start');
  }
  return check(
    'runner-hub-link',
    'runner\'s hub link',
    'fail',
    `${state} to ${link.hubUrl}${link.lastError ? `: ${link.lastError}` : ''}`,
    'check the hub URL and token the runner was started with (`hapi runner status`), then `hapi runner stop && hapi runner start`',
  );
}
