/**
 * The attach client: one viewer of a session's terminal over any transport (transport.ts). It
 * keeps the offset just past the output it holds, so when a stream drops it attaches again with
 * that offset and gets exactly what came after it (or a snapshot when that is gone): no gap, no
 * duplicate. What it receives goes to a sink (a person's terminal, terminal-viewer.ts, or anything
 * else that shows a screen); input and resizes go to the current stream.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_INPUT_BYTES, type AttachMode, type ExitStatus, type ScreenSnapshot, type TerminalSize } from '../../contract/session-types.js';
import { UnavailableError, isHapiError } from '../../shared/errors.js';
import type { AttachStream, AttachTransport } from './transport.js';

/** Where a viewer's output goes. */
export interface ViewerSink {
  /** The whole screen: what was shown before is replaced. */
  snapshot(snapshot: ScreenSnapshot): void;
  /** Raw output that follows what the sink holds. */
  output(data: Buffer): void;
}

export type AttachOutcome = { kind: 'detached' } | { kind: 'exited'; status: ExitStatus };

export interface AttachClientOptions {
  transport: AttachTransport;
  mode: AttachMode;
  /** The viewer's size when a stream opens (interactive viewers); undefined imposes none. */
  size?: () => TerminalSize | undefined;
  /** Offset just past the output the sink already holds (0: it holds nothing, but wants every byte). */
  lastOffset?: number;
  sink: ViewerSink;
  /** How long to keep trying to attach again after a stream dropped (default 5 s). */
  reconnectForMs?: number;
}

export interface AttachClient {
  /** Types into the session (interactive viewers); dropped while reconnecting. */
  input(data: Buffer): void;
  resize(size: TerminalSize): void;
  /** Ends the stream and settles `done` with `detached`; the session keeps running. */
  detach(): void;
  /** Settles once detached or the agent exited; rejects when the session cannot be reached. */
  readonly done: Promise<AttachOutcome>;
}

const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 1_000;

export function startAttach(o: AttachClientOptions): AttachClient {
  let held = o.lastOffset;
  let stream: AttachStream | undefined;
  let detached = false;
  let wakeDetached: () => void = () => {};
  const detachedSignal = new Promise<void>((r) => (wakeDetached = r));

  /** Passes one stream's events to the sink; true when the agent's exit was seen. */
  async function follow(s: AttachStream): Promise<ExitStatus | undefined> {
    for await (const event of s.events) {
      switch (event.kind) {
        case 'snapshot':
          o.sink.snapshot(event.snapshot);
          held = event.snapshot.offset;
          break;
        case 'output': {
          let data = event.data;
          if (held !== undefined && event.offset < held) {
            // Already shown (a resumed stream starts at the offset asked for; this is a guard).
            if (event.offset + data.length <= held) break;
            data = data.subarray(held - event.offset);
          }
          o.sink.output(data);
          held = event.offset + event.data.length;
          break;
        }
        case 'exited':
          return event.status;
      }
    }
    return undefined;
  }

  async function run(): Promise<AttachOutcome> {
    let retryMs = FIRST_RETRY_MS;
    let lostAt: number | undefined;
    let lastError: unknown;
    while (!detached) {
      const attemptAt = Date.now();
      const s = o.transport.open({ mode: o.mode, size: o.mode === 'interactive' ? o.size?.() : undefined, lastOffset: held });
      stream = s;
      const heldBefore = held;
      try {
        const status = await follow(s);
        if (status) return { kind: 'exited', status };
        // Ended without the exit: the session is going away or the stream was cut; look again.
      } catch (err) {
        if (detached) break;
        if (!isHapiError(err) || err.kind !== 'Unavailable') throw err;
        lastError = err;
      } finally {
        stream = undefined;
        // Done with it either way: a server that waits for this side to end (the hub's relay)
        // must not keep the connection, and this process, alive.
        s.close();
      }
      if (detached) break;
      // Progress since the last drop resets the budget.
      if (held !== heldBefore) {
        lostAt = undefined;
        retryMs = FIRST_RETRY_MS;
      }
      lostAt ??= attemptAt;
      // The budget bounds when attempts start: one the server held open for a while (the hub
      // waiting for the machine's runner) still gets its answer and, if need be, one more try.
      if (attemptAt - lostAt > (o.reconnectForMs ?? 5_000)) {
        const why = lastError instanceof Error ? `: ${lastError.message}` : '';
        throw new UnavailableError(`lost the session's terminal and could not attach again${why}`);
      }
      await Promise.race([sleep(retryMs), detachedSignal]);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    }
    return { kind: 'detached' };
  }

  return {
    input(data) {
      for (let at = 0; at < data.length; at += MAX_INPUT_BYTES) stream?.send({ kind: 'input', data: data.subarray(at, at + MAX_INPUT_BYTES) });
    },
    resize(size) {
      stream?.send({ kind: 'resize', size });
    },
    detach() {
      if (detached) return;
      detached = true;
      stream?.close();
      wakeDetached();
    },
    done: run(),
  };
}
