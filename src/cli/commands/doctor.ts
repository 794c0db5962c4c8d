/**
 * `hapi doctor [--json]`: checks this machine's hapi and says what to run to fix each problem.
 * Exit 0 when no check failed (warnings allowed), 1 when one did. A lazy module: it loads the
 * hub client and the native modules it checks.
 */
import { clientConfig } from '../../shared/config.js';
import { EXIT_FAILURE } from '../../shared/exit-codes.js';
import { hapiPaths } from '../../shared/paths.js';
import type { CheckResult } from '../doctor/check.js';
import { agentsCheck, nativeModulesCheck, serviceCheck } from '../doctor/environment-checks.js';
import { hubChecks } from '../doctor/hub-checks.js';
import { runnerChecks } from '../doctor/runner-checks.js';

export interface DoctorReport {
  ok: boolean;
  hapiHome: string;
  checks: CheckResult[];
  summary: { ok: number; warn: number; fail: number; skip: number };
}

export async function runDoctor(): Promise<DoctorReport> {
  const paths = hapiPaths();
  const timeoutMs = Math.min(clientConfig().httpTimeoutMs, 5_000);
  const runner = await runnerChecks(paths, timeoutMs);
  const [native, hub] = await Promise.all([nativeModulesCheck(), hubChecks(paths, runner.status, timeoutMs)]);
  const checks = [...runner.results, agentsCheck(paths, runner.status?.pid), native, ...hub, serviceCheck()];
  const summary = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const c of checks) summary[c.status]++;
  return { ok: summary.fail === 0, hapiHome: paths.home, checks, summary };
}

const LABEL = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skip: '--' } as const;

export function formatReport(r: DoctorReport): string {
  const width = Math.max(...r.checks.map((c) => c.title.length));
  const lines = [`hapi doctor (HAPI_HOME=${r.hapiHome})`];
  for (const c of r.checks) {
    lines.push(`  ${LABEL[c.status].padEnd(4)}  ${c.title.padEnd(width)}  ${c.detail}`);
    if (c.fix) lines.push(`  ${''.padEnd(4)}  ${''.padEnd(width)}  fix: ${c.fix}`);
  }
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  lines.push(r.summary.fail ? `${plural(r.summary.fail, 'problem')}, ${plural(r.summary.warn, 'warning')}` : `no problems${r.summary.warn ? `, ${plural(r.summary.warn, 'warning')}` : ''}`);
  return `${lines.join('\n')}\n`;
}

export async function doctor(opts: { json?: boolean }): Promise<void> {
  const report = await runDoctor();
  process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : formatReport(report));
  if (!report.ok) process.exitCode = EXIT_FAILURE;
}
