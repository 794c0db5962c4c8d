/**
 * One root logger per process (pino). Daemons log JSON lines to a file; on a terminal the same
 * records are printed human-readable. Components take child loggers (`log.child({ c: 'x' })`).
 */
import { Writable } from 'node:stream';
import pino, { type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from './config.js';

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

function prettyStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) out.write(formatPretty(line));
      cb();
    },
  });
}

export function createLogger(opts: LoggerOptions): Logger {
  const streams: pino.StreamEntry[] = [];
  if (opts.file) {
    streams.push({ stream: pino.destination({ dest: opts.file, sync: true, mkdir: true, mode: 0o600 }) as DestinationStream });
  }
  if (opts.pretty || !opts.file) streams.push({ stream: prettyStream(process.stderr) });
  return pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      base: { pid: process.pid },
      serializers: { err: pino.stdSerializers.err },
    },
    pino.multistream(streams.map((s) => ({ ...s, level: 'trace' as const }))),
  );
}

/** A logger that drops everything (for library code used from short CLI commands). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
