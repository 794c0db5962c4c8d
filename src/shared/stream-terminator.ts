/**
 * Ends long-lived server streams on shutdown: grpc-js's `server.shutdown()` never finishes
 * while a stream is open. A streaming handler watches `terminator.signal(context.signal)`
 * instead of the call's own signal; `terminate()` aborts every such signal at once (and
 * the ones asked for afterwards), so the handlers return and their streams end normally.
 *
 * Why not nice-grpc's terminator middleware (nice-grpc-server-middleware-terminator): it is not
 * installed here (no new dependencies), and it fails terminated calls with UNAVAILABLE, while
 * RunnerService.WatchSessions promises a stream that ends when the runner shuts down.
 */
export interface StreamTerminator {
  /** Aborts when the call's own signal does (client gone) or on terminate(). */
  signal(callSignal: AbortSignal): AbortSignal;
  /** Ends every stream, present and future. */
  terminate(): void;
  readonly terminated: boolean;
}

export function createStreamTerminator(): StreamTerminator {
  const shutdown = new AbortController();
  return {
    signal: (callSignal) => AbortSignal.any([callSignal, shutdown.signal]),
    terminate: () => shutdown.abort(),
    get terminated() {
      return shutdown.signal.aborted;
    },
  };
}
