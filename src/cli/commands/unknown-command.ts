/**
 * What `hapi <word>` means when <word> is not a command. Agent arguments come after `--`
 * (`hapi -- --resume`, `hapi --agent codex -- "fix the test"`), so anything else before it is a
 * mistake: `hapi status` once started claude with the prompt "status". Pure functions, so the
 * rules are unit-tested (unknown-command.test.ts); session.ts throws what they build.
 */
import { InvalidArgumentError } from '../../shared/errors.js';

/**
 * Words people type expecting a command, reserved even while no command of that name exists,
 * with what to run instead. A registered command of the same name (say a future `hapi doctor`)
 * wins: commander dispatches to it before the default action ever sees the word.
 */
export const RESERVED_WORDS: Readonly<Record<string, readonly string[]>> = {
  status: ['hapi runner status', 'hapi auth status'],
  logs: ['hapi runner logs', 'hapi hub logs'],
  list: ['hapi runner list', 'hapi sessions'],
  ls: ['hapi runner list', 'hapi sessions'],
  ps: ['hapi runner list', 'hapi sessions'],
  doctor: ['hapi runner status', 'hapi auth status'],
  help: ['hapi --help'],
  version: ['hapi --version'],
  start: ['hapi runner start'],
  kill: ['hapi runner stop-session <session>'],
};

/** Levenshtein distance (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** A command as suggestions name it: the word to compare and what to run. */
export interface CommandChoice {
  /** The command's own name (`status` for `hapi runner status`). */
  word: string;
  /** What a person runs: `hapi runner status`. */
  run: string;
}

/**
 * The commands closest to `word`, best first: one edit away for short names (or ordinary words
 * would collide, "hug" and "hub"), two for longer ones, or `word` a prefix of the name.
 */
export function suggestCommands(word: string, choices: readonly CommandChoice[]): string[] {
  const lower = word.toLowerCase();
  const scored: { run: string; d: number; depth: number; prefix: boolean }[] = [];
  for (const c of choices) {
    const d = editDistance(c.word, lower);
    const allowed = c.word.length <= 4 ? 1 : 2;
    const prefix = lower.length >= 3 && c.word.startsWith(lower);
    if (d <= allowed || prefix) scored.push({ run: c.run, d, depth: c.run.split(' ').length, prefix });
  }
  // Only the closest: `runer` means `hapi runner` (one edit), not also `hapi hub token owner` (two).
  const best = Math.min(...scored.filter((s) => !s.prefix).map((s) => s.d));
  const sorted = scored
    .filter((s) => s.prefix || s.d <= best)
    .sort((x, y) => x.d - y.d || x.depth - y.depth || x.run.localeCompare(y.run))
    .map((s) => s.run);
  return [...new Set(sorted)];
}

/** A shell word as a person would type it back (quoted when it needs quotes). */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The error for agent arguments given before `--` (exit 2). `args` are those arguments, from the
 * first one; `options` the hapi options typed before them (kept in the suggested command line);
 * `commands` every command of the tree, nested ones included.
 */
export function unknownCommandError(args: readonly string[], commands: readonly CommandChoice[], options: readonly string[] = []): InvalidArgumentError {
  const first = args[0] ?? '';
  const retry = ['hapi', ...options, '--', ...args].map(shellWord).join(' ');
  const hint = `arguments for the agent go after --: ${retry}`;
  if (first.startsWith('-')) {
    return new InvalidArgumentError(`unknown option '${first}'; ${hint}`, { option: first });
  }
  const reserved = Object.prototype.hasOwnProperty.call(RESERVED_WORDS, first) ? RESERVED_WORDS[first] : undefined;
  if (reserved) {
    return new InvalidArgumentError(`'${first}' is not a hapi command; run ${reserved.join(' or ')} (or, for the agent: ${retry})`, {
      command: first,
      suggestions: [...reserved],
    });
  }
  const reservedChoices = Object.entries(RESERVED_WORDS).flatMap(([word, runs]) => runs.map((run) => ({ word, run })));
  const suggestions = suggestCommands(first, [...commands, ...reservedChoices]).slice(0, 3);
  const mean = suggestions.length ? `; did you mean ${suggestions.map((s) => `'${s}'`).join(' or ')}?` : '; see hapi --help';
  return new InvalidArgumentError(`unknown command '${first}'${mean} (${hint})`, { command: first, suggestions });
}

/**
 * Splits what the person typed (argv without node and the script) around the agent arguments
 * commander gave the default action: the hapi options before them, the agent arguments typed
 * before `--` (the mistake), and those after it. Commander keeps the order of the words, so the
 * agent arguments are the tail of the command line, less the `--` itself.
 */
export function splitAgentArgs(agentArgs: readonly string[], userArgv: readonly string[]): { options: string[]; before: string[]; after: string[] } {
  const dd = userArgv.indexOf('--');
  const after = dd < 0 ? [] : userArgv.slice(dd + 1);
  const before = agentArgs.slice(0, Math.max(0, agentArgs.length - after.length));
  // After a first agent argument commander passes the rest through as is, `--` included.
  if (before.at(-1) === '--' && dd >= 0) before.pop();
  const start = (dd < 0 ? userArgv.length : dd) - before.length;
  return { options: userArgv.slice(0, Math.max(0, start)), before, after };
}
