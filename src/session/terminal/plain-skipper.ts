/**
 * Where the screen feeder may skip plain lines (plain-run.ts): follows the parser's position,
 * scans the output it has not parsed yet for a run of plain lines (straight from the ring, or
 * from the spool), and builds a skip: the skipped part's SGR residue and the kept lines, as one
 * write for xterm that stands for everything up to the kept lines' end.
 *
 * A run starts only where the model is at rest (ScreenModel.atRest) and ends at anything that is
 * not plain lines, at the next resize, or when `close` is called. Scanning goes SCAN_BYTES at a
 * time; each byte is scanned once while the run lasts.
 */
import type { OutputRing } from './output-ring.js';
import { createPlainRun, type PlainRun } from './plain-run.js';
import type { ScreenModel } from './screen-model.js';

/** Output scanned for plain lines at once, at most (the rest on the next call). */
const SCAN_BYTES = 8 * 1024 * 1024;
/** What is read from the spool to be scanned at once. */
const SPOOL_READ_BYTES = 256 * 1024;

export interface PlainSkip {
  /** The write for xterm: the residue, then the kept lines. */
  unit: Buffer;
  /** The output offset the model stands at once it parsed `unit` (the kept lines' end). */
  to: number;
  /** Output bytes passed over without parsing. */
  skipped: number;
}

export interface PlainSkipper {
  /**
   * True when everything from `fed` (where the parser stands, nothing in flight) up to the
   * output's end is plain lines so far: such a backlog may yet be skipped.
   */
  plainBacklog(fed: number): boolean;
  /** A skip from `fed` (the parser at rest there, nothing in flight); undefined when there is none to take. */
  take(fed: number): PlainSkip | undefined;
  /** Ends the current run (a resize: its line count is for the size it was scanned with). */
  close(): void;
}

export interface PlainSkipperOptions {
  ring: OutputRing;
  screen: ScreenModel;
  /** Output from `offset` (ring or spool; a copy, or a view of `into`); undefined when not held. */
  read(offset: number, maxBytes: number, into?: Buffer): Buffer | undefined;
  /** The offset of the next resize not applied yet, if any: a run never crosses it. */
  nextResizeAt(): number | undefined;
}

export function createPlainSkipper(o: PlainSkipperOptions): PlainSkipper {
  const { ring, screen } = o;
  let run: PlainRun | undefined;
  /** `fed` where the model was last found not at rest: no run starts there. */
  let notAtRestAt = -1;
  let scratch: Buffer | undefined;

  /** The run from `fed` on, scanned as far as the output goes; undefined when the model is not at rest where it would start. */
  function runFrom(fed: number): PlainRun | undefined {
    if (!run || fed < run.start || fed > run.end) {
      run = undefined;
      if (fed === notAtRestAt) return undefined;
      if (!screen.atRest()) {
        notAtRestAt = fed;
        return undefined;
      }
      run = createPlainRun(fed, screen.keepLines);
    }
    const resizeAt = o.nextResizeAt();
    const stop = Math.min(ring.end, resizeAt ?? Infinity, run.end + SCAN_BYTES);
    while (run.open && run.end < stop) {
      const at = run.end;
      if (at >= ring.start) {
        // Straight from the ring (no copy): scanned before anything is appended again.
        let left = stop - at;
        for (const view of ring.viewsFrom(at)!) {
          if (left <= 0 || !run.open) break;
          run.scan(left < view.length ? view.subarray(0, left) : view);
          left -= view.length;
        }
      } else {
        const data = o.read(at, Math.min(SPOOL_READ_BYTES, stop - at), (scratch ??= Buffer.allocUnsafe(SPOOL_READ_BYTES)));
        if (!data || data.length === 0) run.close();
        else run.scan(data);
      }
    }
    if (resizeAt !== undefined && run.end >= resizeAt) run.close();
    return run;
  }

  return {
    plainBacklog(fed) {
      const r = runFrom(fed);
      return r !== undefined && r.open && r.end >= ring.end;
    },
    take(fed) {
      const cut = runFrom(fed)?.cut(fed);
      if (!cut || !screen.atRest()) return undefined;
      const parts: Buffer[] = [cut.residue];
      for (let at = cut.skipTo; at < cut.to; ) {
        const part = o.read(at, cut.to - at);
        // The kept lines are no longer held (longer than the ring, and the spool failed): no skip.
        if (!part || part.length === 0) return undefined;
        parts.push(part);
        at += part.length;
      }
      return { unit: Buffer.concat(parts), to: cut.to, skipped: cut.skipTo - fed };
    },
    close() {
      run?.close();
    },
  };
}
