/**
 * Gives a flood's garbage back once the output is quiet again.
 *
 * Parsing output into the screen model leaves garbage in V8's old generation at about a quarter
 * of the output's size (after 100 MB of output a session held ~30 MB of heap of which ~10 MB was
 * live). V8 collects it only when the heap would grow again, or when its memory reducer runs
 * many seconds later: an idle session kept ~95 MB resident where a full collection leaves ~80.
 * So once the output has been quiet for `quietMs` after at least `minBytes` of it, and the model
 * has parsed it all, one full collection runs (some ms for a heap of this size, once per
 * burst: never during one).
 */
export interface IdleCollector {
  /** Told of every output read (bytes). */
  output(bytes: number): void;
  close(): void;
}

export interface IdleCollectorOptions {
  /** A full collection (`globalThis.gc` under --expose-gc, SESSION_NODE_FLAGS); none: this does nothing. */
  gc: (() => void) | undefined;
  /** Resolves once the model has parsed everything written so far. */
  settled: () => Promise<void>;
  /** Output since the last collection that makes another worth it. */
  minBytes: number;
  /** Quiet time that ends a burst. */
  quietMs: number;
}

export function createIdleCollector(o: IdleCollectorOptions): IdleCollector {
  let bytes = 0;
  let lastOutputAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function check(): void {
    timer = undefined;
    if (closed) return;
    const quietFor = performance.now() - lastOutputAt;
    // One timer per burst, not one per read: it looks again when the quiet time is not up yet.
    if (quietFor < o.quietMs) return void (timer = setTimeout(check, o.quietMs - quietFor).unref());
    void o.settled().then(() => {
      if (closed || performance.now() - lastOutputAt < o.quietMs || bytes < o.minBytes) return;
      bytes = 0;
      o.gc!();
    });
  }

  return {
    output(n) {
      if (!o.gc) return;
      bytes += n;
      lastOutputAt = performance.now();
      if (!timer && bytes >= o.minBytes) timer = setTimeout(check, o.quietMs).unref();
    },
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
