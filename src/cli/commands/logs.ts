/**
 * `hapi runner logs` and `hapi hub logs`: the newest daemon log (src/shared/log-files.ts).
 * Without options the path is printed (`tail -f $(hapi runner logs)` keeps working); `-n N`
 * prints its last N lines, `--follow` keeps printing what is appended (and moves on to a newer
 * log when the daemon restarts), `--pretty` formats the JSON lines with pino-pretty. A lazy
 * module (scripts/build.mjs): pino-pretty stays out of the CLI's hot bundle.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { InvalidArgumentError, NotFoundError } from '../../shared/errors.js';
import { newestLog, type LogProgram } from '../../shared/log-files.js';
import { hapiPaths } from '../../shared/paths.js';

export interface LogsOptions {
  follow?: boolean;
  pretty?: boolean;
  /** Lines to print from the end (commander hands a string). */
  lines?: string;
  /** How often --follow looks for new lines (ms). */
  pollMs?: number;
  /** Ends --follow (tests; SIGINT otherwise). */
  signal?: AbortSignal;
}

const DEFAULT_LINES = 10;
type PrettyFactory = typeof import('pino-pretty').prettyFactory;
/** Bytes read back at a time while looking for the last lines. */
const CHUNK = 64 * 1024;

/** The last `n` complete lines of a file and the offset just past what was read. */
export function lastLines(file: string, n: number): { lines: string[]; end: number } {
  const fd = openSync(file, 'r');
  try {
    const end = statSync(file).size;
    let pos = end;
    let text = '';
    // Read backwards until n+1 newlines are in hand (or the start of the file).
    while (pos > 0 && text.split('\n').length <= n + 1) {
      const len = Math.min(CHUNK, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, pos);
      text = buf.toString('utf8') + text;
    }
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return { lines: n === 0 ? [] : lines.slice(-n), end };
  } finally {
    closeSync(fd);
  }
}

function parseCount(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_LINES;
  if (!/^\d+$/.test(raw)) throw new InvalidArgumentError(`-n takes a number of lines, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

async function formatter(pretty: boolean): Promise<(line: string) => string> {
  if (!pretty) return (line) => `${line}\n`;
  // CommonJS: its functions hang off the default export once bundled as ESM.
  const mod = (await import('pino-pretty')) as unknown as { prettyFactory?: PrettyFactory; default: { prettyFactory: PrettyFactory } };
  const prettyFactory = mod.prettyFactory ?? mod.default.prettyFactory;
  const colorize = process.stdout.isTTY === true && !process.env.NO_COLOR;
  const format = prettyFactory({ colorize, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l', ignore: 'hostname' });
  // A line that is not a JSON record (a torn line after a full disk) is shown as it is.
  return (line) => format(line) || `${line}\n`;
}

/** Prints what is appended to `file` from `offset`, moving on to a newer log of `program`. */
async function follow(program: LogProgram, file: string, offset: number, write: (line: string) => void, opts: LogsOptions): Promise<void> {
  const logsDir = hapiPaths().logsDir;
  const pollMs = opts.pollMs ?? 250;
  let current = file;
  let pos = offset;
  let partial = '';
  const stop = opts.signal ?? signalOnInterrupt();
  while (!stop.aborted) {
    let size: number;
    try {
      size = statSync(current).size;
    } catch {
      size = pos; // removed (pruned): wait for a newer one
    }
    if (size < pos) pos = 0; // truncated: start over
    if (size > pos) {
      const fd = openSync(current, 'r');
      try {
        const buf = Buffer.alloc(size - pos);
        const n = readSync(fd, buf, 0, buf.length, pos);
        pos += n;
        const lines = (partial + buf.subarray(0, n).toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line) write(line);
      } finally {
        closeSync(fd);
      }
      continue;
    }
    const newest = newestLog(program, logsDir);
    if (newest && newest !== current) {
      if (partial) write(partial);
      process.stderr.write(`==> ${newest} (the ${program} restarted) <==\n`);
      current = newest;
      pos = 0;
      partial = '';
      continue;
    }
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(t);
        stop.removeEventListener('abort', wake);
        resolve();
      };
      const t = setTimeout(wake, pollMs);
      stop.addEventListener('abort', wake, { once: true });
    });
  }
}

function signalOnInterrupt(): AbortSignal {
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return ac.signal;
}

/** `hapi <program> logs [-n N] [--follow] [--pretty]`. */
export async function logs(program: LogProgram, opts: LogsOptions = {}): Promise<void> {
  const paths = hapiPaths();
  const file = newestLog(program, paths.logsDir);
  if (!file) {
    const start = program === 'runner' ? '`hapi runner start`' : '`hapi hub` or `hapi up`';
    throw new NotFoundError(`no ${program} logs in ${paths.logsDir} (none written yet: start it with ${start})`);
  }
  const count = parseCount(opts.lines);
  if (!opts.follow && !opts.pretty && opts.lines === undefined) {
    process.stdout.write(`${file}\n`);
    return;
  }
  const format = await formatter(opts.pretty === true);
  const write = (line: string) => process.stdout.write(format(line));
  const { lines, end } = lastLines(file, count);
  for (const line of lines) write(line);
  if (opts.follow) await follow(program, file, end, write, opts);
}
