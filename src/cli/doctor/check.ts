/** What one `hapi doctor` check found: a status, what it saw, and the command that fixes it. */

/** `ok` fine; `warn` worth knowing, works; `fail` broken (doctor exits 1); `skip` does not apply here. */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Stable id (`runner`, `runner-files`, `log-writes`, `agents`, `native-modules`, `hub`, `hub-token`, `clock`, `runner-hub-link`, `service`). */
  id: string;
  /** A short name for people. */
  title: string;
  status: CheckStatus;
  /** What was seen, in a sentence or two. */
  detail: string;
  /** The command (or step) that fixes it; null when nothing needs fixing. */
  fix: string | null;
}

export const check = (id: string, title: string, status: CheckStatus, detail: string, fix: string | null = null): CheckResult => ({
  id,
  title,
  status,
  detail,
  fix: status === 'ok' ? null : fix,
});
