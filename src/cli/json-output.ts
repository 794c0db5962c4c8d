/**
 * Every `--json` output of the CLI, built here and nowhere else, so the shapes stay one family:
 * each output is one JSON object on one line of stdout, with stable field names, every field
 * always present (null when unknown), enums as lower-case words (`running`, `read-only`), times
 * in RFC 3339. An error under `--json` is one object on stderr: `{code, message, exitCode}`, the
 * code being the gRPC status name in lower case (`not_found`). The shapes are documented as JSON
 * Schema files in docs/json/, and test/json-schemas.test.ts checks real output against them.
 *
 * Machines and sessions of the hub come from the contract's JSON (src/contract/json.ts), the
 * REST view's fields with lower-case enums.
 */
import { CommanderError } from 'commander';
import type { GetStatusResponse, ListSessionsResponse } from '../contract/runner.js';
import { sessionStateFromProto, startedByFromProto } from '../contract/common.js';
import { sessionTerminalFromProto, hubLinkStateFromProto } from '../contract/runner.js';
import type { TokenScope } from '../contract/types.js';
import { activityToCliJson } from '../contract/json.js';
import { isHapiError, type ErrorKind } from '../shared/errors.js';
import { EXIT_FAILURE, EXIT_USAGE, exitCodeOf } from '../shared/exit-codes.js';

type Json = Record<string, unknown>;

/** Prints one `--json` result: one object, one line, on stdout. */
export function printJson(value: Json): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

const iso = (d: Date | undefined): string | null => d?.toISOString() ?? null;
/** Empty strings of the contract (proto3 has no "unset" for strings) become null: unknown. */
const orNull = (s: string | undefined): string | null => (s ? s : null);

/** Whether the command line asks for `--json` (before any `--`, after which words are the agent's). */
export function wantsJson(argv: readonly string[]): boolean {
  const user = argv.slice(2);
  const end = user.indexOf('--');
  return (end < 0 ? user : user.slice(0, end)).includes('--json');
}

/** `InvalidArgument` -> `invalid_argument`: gRPC's status name, lower case. */
export function grpcCodeName(kind: ErrorKind): string {
  return kind.replace(/(?<!^)([A-Z])/g, '_$1').toLowerCase();
}

/** The error object `--json` prints on stderr (docs/json/error.schema.json). */
export function errorJson(err: unknown): { code: string; message: string; exitCode: number } {
  if (err instanceof CommanderError) {
    return { code: 'invalid_argument', message: err.message.replace(/^error: /, ''), exitCode: EXIT_USAGE };
  }
  if (isHapiError(err)) return { code: grpcCodeName(err.kind), message: err.message, exitCode: exitCodeOf(err.kind) };
  return { code: 'unknown', message: err instanceof Error ? err.message : String(err), exitCode: EXIT_FAILURE };
}

/** One session the runner tracks, with its terminal (`runner list --json`, `runner status --json`). */
export function runnerSessionsJson(r: ListSessionsResponse): Json[] {
  return r.sessions.map((s) => {
    const t = sessionTerminalFromProto(r.terminals[s.id]);
    return {
      sessionId: s.id,
      pid: s.pid,
      state: sessionStateFromProto(s.state),
      startedBy: startedByFromProto(s.startedBy),
      directory: s.directory,
      agent: s.agent,
      startedAt: iso(s.startedAt),
      worktree: s.worktree ? { path: s.worktree.path, branch: s.worktree.branch, repository: s.worktree.repository } : null,
      attachable: t.attachable,
      protocolVersion: t.protocolVersion,
      viewers: t.viewers,
      lastOutputAt: iso(t.lastOutputAt),
      activity: activityToCliJson(s.activity),
      endedAt: iso(s.endedAt),
      exitCode: s.exitCode ?? null,
      exitSignal: orNull(s.exitSignal),
    };
  });
}

/** `runner list --json`. */
export function runnerListJson(r: ListSessionsResponse): Json {
  return { sessions: runnerSessionsJson(r) };
}

/** Why no runner answered (src/runner/client/stale.ts), as `runner status --json` names it. */
export interface RunnerAbsence {
  state: 'not-running' | 'stale-cleaned' | 'alive-not-answering';
  pid: number | null;
  message: string;
}

/**
 * `runner status --json`: one shape whether the runner answers or not; when it does not, every
 * field but running, state, pid and message is null.
 */
export function runnerStatusJson(s: GetStatusResponse | undefined, sessions: Json[] | null, absent?: RunnerAbsence): Json {
  const link = s?.hubLink;
  return {
    running: s !== undefined,
    state: s ? 'running' : (absent?.state ?? 'not-running'),
    message: s ? null : (absent?.message ?? null),
    ready: s ? s.ready : null,
    pid: s ? s.pid : (absent?.pid ?? null),
    startedAt: iso(s?.startedAt),
    uptimeMs: s?.startedAt ? Math.max(0, Date.now() - s.startedAt.getTime()) : null,
    cliVersion: s ? s.cliVersion : null,
    cliPath: s ? s.cliPath : null,
    cliMtimeMs: s ? s.cliMtimeMs : null,
    httpPort: s ? s.httpPort : null,
    socketPath: s ? s.socketPath : null,
    lastHeartbeat: iso(s?.lastHeartbeat),
    logPath: s ? s.logPath : null,
    logWrites: s
      ? {
          failing: s.logWrites?.failing ?? false,
          lastError: orNull(s.logWrites?.lastError),
          droppedLines: s.logWrites?.droppedLines ?? 0,
          lastFailureAt: iso(s.logWrites?.lastFailureAt),
        }
      : null,
    counters: s
      ? {
          spawns: s.counters?.spawns ?? 0,
          spawnFailures: s.counters?.spawnFailures ?? 0,
          stops: s.counters?.stops ?? 0,
          hubReconnects: s.counters?.hubReconnects ?? 0,
          hubLinkFailures: s.counters?.hubLinkFailures ?? 0,
          relayedCalls: s.counters?.relayedCalls ?? 0,
          relayedCallFailures: s.counters?.relayedCallFailures ?? 0,
          logWriteFailures: s.counters?.logWriteFailures ?? 0,
        }
      : null,
    sessionCount: s ? s.sessionCount : null,
    sessions: s ? sessions : null,
    hapiHome: s ? s.hapiHome : null,
    workspaceRoots: s ? s.workspaceRoots : null,
    hubLink: s
      ? {
          state: link ? hubLinkStateFromProto(link.state) : 'not-configured',
          hubUrl: orNull(link?.hubUrl),
          lastError: orNull(link?.lastError),
          machineId: orNull(link?.machineId),
          namespace: orNull(link?.namespace),
          connectedSince: iso(link?.connectedSince),
        }
      : null,
  };
}

/** A token as `hub token list --json` prints it (never its secret). */
export function tokenJson(t: { tokenId: string; namespace: string; label: string; owner: boolean; createdAt?: Date; scope: TokenScope }): Json {
  return { tokenId: t.tokenId, namespace: t.namespace, label: t.label, owner: t.owner, scope: t.scope, createdAt: iso(t.createdAt) };
}

/** `hub token create --json`: the new token, its secret shown this once. */
export function createdTokenJson(t: { tokenId: string; namespace: string; label: string; scope: TokenScope; token: string }): Json {
  return { tokenId: t.tokenId, namespace: t.namespace, label: t.label, scope: t.scope, token: t.token };
}

/** Where `auth status` found its token, as a lower-case word. */
export function tokenSourceWord(source: string): string {
  return source.toLowerCase().replace(/[\s_]+/g, '-');
}

/** `spawn --json`: a started session, or the approval a missing directory needs. */
export function spawnJson(o: { session: Json | null; approval: { actionRequired: string; directory: string } | null }): Json {
  return {
    started: o.session !== null,
    session: o.session,
    requiresUserApproval: o.approval !== null,
    actionRequired: o.approval ? o.approval.actionRequired.toLowerCase().replace(/_/g, '-') : null,
    directory: o.approval ? o.approval.directory : null,
  };
}
