/**
 * One root logger per process (pino). Daemons log JSON lines to a file; on a terminal the same
 * records are printed human-readable. Components take child loggers (`log.child({ c: 'x' })`).
 *
 * Logging never kills a daemon: a line that cannot be written (disk full, quota, a closed
 * stderr pipe) is dropped and counted, never thrown, and the count is visible through
 * logWriteHealth() (`hapi runner status`). pino's own file destination emits an 'error' event on
 * ENOSPC, which crashed the runner, again inside its crash handler.
 */
import { mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { LogLevel } from './config.js';
import { errnoCode } from './errors.js';

export type { Logger };

export interface LoggerOptions {
  name: string;
  level?: LogLevel;
  /** Append JSON lines to this file (created 0600). */
  file?: string;
  /** Also print human-readable lines to stderr (foreground daemons on a terminal). */
  pretty?: boolean;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'c']);

/** Formats one pino JSON record as `HH:MM:SS LEVEL [component] message key=value ...`. */
export function formatPretty(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = new Date(typeof rec.time === 'number' ? rec.time : Date.now()).toTimeString().slice(0, 8);
  const level = LEVEL_NAMES[rec.level as number] ?? String(rec.level);
  const comp = rec.c ? ` [${String(rec.c)}]` : '';
  const extras = Object.entries(rec)
    .filter(([k]) => !SKIP_KEYS.has(k))
    .map(([k, v]) => {
      if (k === 'err' && v && typeof v === 'object') return `err=${JSON.stringify((v as { message?: string }).message ?? v)}`;
      return `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
    })
    .join(' ');
  return `${time} ${level.padEnd(5)}${comp} ${String(rec.msg ?? '')}${extras ? ` ${extras}` : ''}\n`;
}

/** How a logger's writes fare: failed lines are dropped and counted, never thrown. */
export interface LogWriteHealth {
  /** True while the most recent write failed. */
  failing: boolean;
  /** errno code of the most recent failure, e.g. 'ENOSPC' (undefined if none failed yet). */
  lastError?: string;
  /** Lines dropped since the logger was created. */
  droppedLines: number;
  lastFailureAt?: Date;
}

function createHealth() {
  const h: LogWriteHealth = { failing: false, droppedLines: 0 };
  return {
    ok(): void {
      h.failing = false;
    },
    failed(err: unknown, lines: number): void {
      h.failing = true;
      h.lastError = errnoCode(err) ?? (err instanceof Error ? err.message : String(err));
      h.droppedLines += Math.max(1, lines);
      h.lastFailureAt = new Date();
    },
    snapshot: (): LogWriteHealth => ({ ...h }),
  };
}
type Health = ReturnType<typeof createHealth>;

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * Appends each record to `file` with synchronous writes (a record is on disk before the call
 * returns, even if the process dies next), looping over short writes. A failure drops the rest
 * of that record; if part of it was written, the next record starts on a new line so the file
 * stays one JSON record per line. The file is opened lazily and reopened after a failed open.
 */
function fileSink(file: string, health: Health): { write(chunk: string): boolean } {
  let fd: number | undefined;
  let torn = false;
  return {
    write(chunk: string): boolean {
      const buf = Buffer.from(torn ? `\n${chunk}` : chunk, 'utf8');
      let off = 0;
      try {
        if (fd === undefined) {
          mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
          fd = openSync(file, 'a', 0o600);
        }
        while (off < buf.length) {
          const n = writeSync(fd, buf, off, buf.length - off);
          if (n <= 0) throw Object.assign(new Error('log write made no progress'), { code: 'EIO' });
          off += n;
        }
        torn = false;
        health.ok();
      } catch (err) {
        if (off > 0) torn = true;
        health.failed(err, countLines(buf.subarray(off).toString('utf8')));
      }
      return true;
    },
  };
}

/** Human-readable lines to a terminal stream; a failed write is dropped and counted. */
function prettyStream(out: NodeJS.WritableStream, health: Health): Writable {
  // An async error (e.g. EPIPE on a closed pipe) must not become an uncaught exception.
  out.on('error', (err) => health.failed(err, 1));
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          out.write(formatPretty(line));
        } catch (err) {
          health.failed(err, 1);
        }
      }
      cb();
    },
  });
}

/*
 * One key once per line. pino writes a line as base fields and child bindings (a string it
 * appends to per child) followed by the call's object, and never merges them: a child that
 * re-binds a key (`log.child({ c: 'hub-core' }).child({ c: 'hub-terminals' })`) or a call that
 * names a bound key again (`log.info({ sessionPid: process.pid })`, or a session's pid under the
 * runner's `pid`) wrote that key twice, and JSON readers keep only one of them.
 * - a child's bindings replace the parent's of the same key (the innermost component wins);
 * - a call's key that is bound already is dropped when it says the same, else renamed `dup_<key>`
 *   (a name to fix at the call site: log another process's pid as `sessionPid`, not `pid`).
 */
const { chindingsSym } = pino.symbols;
type WithChindings = Logger & { [chindingsSym]: string };

/** The bound fields of a logger (base and child bindings) as one object; chindings is `,"k":v,...`. */
function boundFields(log: Logger): Record<string, unknown> {
  const chindings = (log as WithChindings)[chindingsSym];
  let cached = boundCache.get(log);
  if (cached?.chindings !== chindings) boundCache.set(log, (cached = { chindings, fields: JSON.parse(`{${chindings.slice(1)}}`) as Record<string, unknown> }));
  return cached.fields;
}
const boundCache = new WeakMap<Logger, { chindings: string; fields: Record<string, unknown> }>();

function dedupeChildBindings(child: Logger): void {
  const fields = boundFields(child);
  const text = JSON.stringify(fields);
  (child as WithChindings)[chindingsSym] = text === '{}' ? '' : `,${text.slice(1, -1)}`;
}

/** pino's mixin: hands the merge below the logger's bound fields. */
function bindingsOf(_obj: object, _level: number, log: Logger): object {
  return { [BOUND]: boundFields(log) };
}
const BOUND = Symbol('bound fields');

function withoutBoundKeys(obj: object, mixed: object): object {
  const bound = (mixed as { [BOUND]: Record<string, unknown> })[BOUND];
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(obj)) {
    if (!(key in bound)) continue;
    out ??= { ...(obj as Record<string, unknown>) };
    const value = out[key];
    delete out[key];
    if (JSON.stringify(value) !== JSON.stringify(bound[key])) out[`dup_${key}`] = value;
  }
  return out ?? obj;
}

const healthOf = new WeakMap<Logger, Health>();

/** Write health of a logger made by createLogger (undefined for other loggers). */
export function logWriteHealth(log: Logger): LogWriteHealth | undefined {
  return healthOf.get(log)?.snapshot();
}

export function createLogger(opts: LoggerOptions): Logger {
  const health = createHealth();
  const streams: pino.StreamEntry[] = [];
  if (opts.file) streams.push({ stream: fileSink(opts.file, health) });
  if (opts.pretty || !opts.file) streams.push({ stream: prettyStream(process.stderr, health) });
  const logger = pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      base: { pid: process.pid },
      serializers: { err: pino.stdSerializers.err },
      onChild: dedupeChildBindings,
      mixin: bindingsOf,
      mixinMergeStrategy: withoutBoundKeys,
    },
    pino.multistream(streams.map((s) => ({ ...s, level: 'trace' as const }))),
  );
  healthOf.set(logger, health);
  return logger;
}

/**
 * For daemons: a write error on stdout or stderr (a closed pipe to the CLI that started the
 * runner, a full disk under a redirected file) is dropped instead of becoming an uncaught
 * exception that stops the daemon.
 */
export function ignoreStdioWriteErrors(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
}

/** A logger that drops everything (for library code used from short CLI commands). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
