/**
 * What every part of hapi accepts as a session, so that no input can grow a file name, a
 * registry entry or a message to the hub without bound: one session-id rule
 * (isValidSessionId in types.ts) and an upper bound for each of a session's text fields. The
 * runner's service facade applies these to every call (gRPC, HTTP gateway, relayed from the
 * hub); the hub applies them to what runners and clients send it; the runner drops a stored
 * session that breaks them. Error messages quote at most the start of an offending value.
 */
import { InvalidArgumentError } from '../shared/errors.js';
import { isValidSessionId, type SessionEnd, type SessionInfo, type SessionReport, type SpawnSpec } from './types.js';

/** Upper bounds (in characters) of a session's text fields; paths get Linux's PATH_MAX. */
export const SESSION_FIELD_LIMITS = {
  directory: 4096,
  agent: 128,
  requestId: 200,
  worktreePath: 4096,
  worktreeBranch: 256,
  worktreeRepository: 4096,
  logPath: 4096,
  processStartTime: 64,
  exitSignal: 32,
} as const;

/**
 * Upper bound (in characters) of a spawn's prompt. It may travel as one command-line argument
 * or environment string, which Linux caps at 128 KiB (MAX_ARG_STRLEN): 16384 characters of up
 * to 4 UTF-8 bytes each stay below that.
 */
export const PROMPT_MAX_CHARS = 16_384;

/** C0 controls but tab and newline, DEL, and C1 controls: what a prompt may not contain. */
const PROMPT_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

/**
 * A spawn's prompt: undefined or empty is none (proto3 cannot tell them apart; the JSON and CLI
 * paths refuse an explicitly empty one themselves). A prompt is typed into a terminal or passed
 * as an argument, so it holds no terminal controls (an escape sequence would reach the terminal
 * as keys); blank and overlong ones are mistakes.
 */
export function checkPrompt(prompt: unknown): void {
  if (prompt === undefined || prompt === '') return;
  if (typeof prompt !== 'string') throw new InvalidArgumentError('prompt must be a string');
  const length = [...prompt].length;
  if (length > PROMPT_MAX_CHARS) throw new InvalidArgumentError(`prompt is longer than ${PROMPT_MAX_CHARS} characters (${length})`);
  if (prompt.trim() === '') throw new InvalidArgumentError('prompt must not be blank (omit it for none)');
  const bad = PROMPT_CONTROL.exec(prompt);
  if (bad) {
    const code = bad[0].charCodeAt(0).toString(16).padStart(2, '0');
    throw new InvalidArgumentError(`prompt contains a control character (0x${code} at ${bad.index}); only newline and tab are allowed`);
  }
}

/** How much of a rejected value an error message or a log line quotes. */
const QUOTE_CHARS = 64;

/** A value as messages and logs quote it: JSON, cut after QUOTE_CHARS characters with the full length. */
export function quoteValue(value: unknown): string {
  if (typeof value !== 'string') return String(value);
  if (value.length <= QUOTE_CHARS) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, QUOTE_CHARS))}... (${value.length} characters)`;
}

/** `text` cut to at most `max` characters (marked with an ellipsis), e.g. an error message for the hub. */
export function clipText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The session-id rule as a check: InvalidArgumentError naming the rule, quoting at most the id's start. */
export function checkSessionId(id: unknown, what = 'session id'): string {
  if (typeof id !== 'string' || !isValidSessionId(id)) {
    throw new InvalidArgumentError(`invalid ${what} ${quoteValue(id)}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  return id;
}

function tooLong(what: string, value: string | undefined, limit: number): string | undefined {
  return typeof value === 'string' && value.length > limit ? `${what} is longer than ${limit} characters (${value.length})` : undefined;
}

function check(problem: string | undefined): void {
  if (problem) throw new InvalidArgumentError(problem);
}

/** Why `s` is not a session hapi accepts (a bad id, a field over its limit); undefined when it is one. */
export function sessionProblem(s: SessionInfo): string | undefined {
  if (typeof s.id !== 'string' || !isValidSessionId(s.id)) return `invalid session id ${quoteValue(s.id)}`;
  const L = SESSION_FIELD_LIMITS;
  return (
    tooLong('directory', s.directory, L.directory) ??
    tooLong('agent', s.agent, L.agent) ??
    tooLong('requestId', s.requestId, L.requestId) ??
    tooLong('worktree.path', s.worktree?.path, L.worktreePath) ??
    tooLong('worktree.branch', s.worktree?.branch, L.worktreeBranch) ??
    tooLong('worktree.repository', s.worktree?.repository, L.worktreeRepository) ??
    tooLong('logPath', s.logPath, L.logPath) ??
    tooLong('processStartTime', s.processStartTime, L.processStartTime) ??
    tooLong('exitSignal', s.exitSignal, L.exitSignal)
  );
}

/** A spawn request: an optional session id (empty = a new one), and bounded texts. */
export function checkSpawnSpec(spec: SpawnSpec): void {
  if (typeof spec.directory !== 'string' || spec.directory.trim() === '') throw new InvalidArgumentError('directory is required');
  if (spec.sessionId !== undefined && spec.sessionId !== '') checkSessionId(spec.sessionId);
  const args: unknown = spec.agentArgs ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string' && !a.includes('\0'))) {
    throw new InvalidArgumentError('agentArgs must be strings without NUL bytes');
  }
  checkPrompt(spec.prompt);
  const L = SESSION_FIELD_LIMITS;
  check(
    tooLong('directory', spec.directory, L.directory) ??
      tooLong('agent', spec.agent, L.agent) ??
      tooLong('requestId', spec.requestId, L.requestId) ??
      tooLong('worktree.branch', spec.worktree?.branch, L.worktreeBranch),
  );
}

/** A session's report about itself. */
export function checkSessionReport(report: SessionReport): void {
  checkSessionId(report.sessionId);
  check(tooLong('directory', report.directory, SESSION_FIELD_LIMITS.directory) ?? tooLong('agent', report.agent, SESSION_FIELD_LIMITS.agent));
}

/** A session's report that its agent exited. */
export function checkSessionEnd(end: SessionEnd): void {
  checkSessionId(end.sessionId);
  check(tooLong('exitSignal', end.exitSignal, SESSION_FIELD_LIMITS.exitSignal));
}
