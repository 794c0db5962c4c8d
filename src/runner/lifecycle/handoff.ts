/**
 * Automatic hand-off after a CLI upgrade: when the CLI file's mtime differs from the one the
 * runner started with, start a new runner with `hapi runner start` (the new CLI). That command
 * sees a running runner of another version, stops it over gRPC (this process then shuts down
 * with reason "handoff") and starts the new one, which re-adopts every session. A failed
 * hand-off is retried with exponential backoff, never in a tight loop.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import type { Logger } from 'pino';
import { createBackoff } from '../../shared/backoff.js';

export interface HandoffOptions {
  cliPath: string;
  /** Extra `runner start` flags to carry over (e.g. --workspace-root). */
  startArgs: string[];
  /** Log file the new `runner start` process writes its own output to. */
  outputFile: string;
  log: Logger;
  /** Backoff bounds in ms. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface Handoff {
  /** Called from the heartbeat when a version mismatch is seen. */
  onVersionMismatch(recordedMtimeMs: number, currentMtimeMs: number): void;
  inProgress(): boolean;
}

export function createHandoff(opts: HandoffOptions): Handoff {
  const backoff = createBackoff({ initialMs: opts.minBackoffMs ?? 1_000, maxMs: opts.maxBackoffMs ?? 5 * 60_000 });
  let attempts = 0;
  let notBefore = 0;
  let child: ReturnType<typeof spawn> | undefined;

  return {
    inProgress: () => child !== undefined,
    onVersionMismatch(recorded, current) {
      if (child) return;
      const now = Date.now();
      if (now < notBefore) {
        opts.log.info({ retryInMs: notBefore - now }, 'version mismatch; hand-off retry pending');
        return;
      }
      attempts++;
      opts.log.info({ recordedMtimeMs: recorded, currentMtimeMs: current, attempt: attempts }, 'version mismatch: CLI file changed; starting a new runner to hand over');
      const fd = openSync(opts.outputFile, 'a', 0o600);
      try {
        child = spawn(process.execPath, [opts.cliPath, 'runner', 'start', ...opts.startArgs], {
          detached: true,
          stdio: ['ignore', fd, fd],
          env: process.env,
        });
      } finally {
        closeSync(fd);
      }
      child.on('error', (err) => opts.log.error({ err }, 'could not start the new runner for hand-off'));
      child.on('exit', (code, signal) => {
        child = undefined;
        if (code === 0) {
          opts.log.info('hand-off command finished');
          return;
        }
        const delay = backoff.failed();
        notBefore = Date.now() + delay;
        opts.log.warn({ code, signal, retryInMs: delay }, 'hand-off failed; will retry with backoff');
      });
      child.unref();
    },
  };
}
