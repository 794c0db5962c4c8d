/**
 * The hub's HTTP/2 receive windows. grpc-js serves with Node's defaults, 64 KiB per stream and
 * 64 KiB per connection, and has no option to change them on the server side. A runner's attach
 * stream carries a session's output up to the hub, so with those windows at most 64 KiB is on
 * its way at any time, for all the attaches of a runner together: each further 64 KiB waits for
 * the hub to read, send WINDOW_UPDATE, and the runner to be scheduled again. On a loaded machine
 * that round trip, not CPU, set the throughput to a viewer (bench/hub-attach.mjs: 1 MB/s at a
 * load average of 9).
 *
 * The hub reads every attach stream as fast as it comes (a slow viewer is bounded in the viewer
 * relay, not by the window), so a larger window only lets more be in flight; it does not make
 * the hub hold more. It is set on each connection when its first call comes in: the connection
 * window at once (WINDOW_UPDATE), the stream window by SETTINGS, which HTTP/2 applies to the
 * streams already open too.
 *
 * grpc-js hands the first interceptor its base call, which holds the call's HTTP/2 stream in a
 * field that is not part of its typed API: if an upgrade renames it, nothing breaks but the
 * windows (test/hub-attach.test.ts checks the windows a client sees).
 */
import type { Http2Session, ServerHttp2Stream } from 'node:http2';
import type { ServerInterceptingCall, ServerInterceptor } from '@grpc/grpc-js';

/** Per stream: a few of a session's output messages (64 KiB each) in flight. */
export const HUB_STREAM_WINDOW_BYTES = 1024 * 1024;
/** Per connection: the runner's attach connection carries all of its attaches. */
export const HUB_CONNECTION_WINDOW_BYTES = 4 * 1024 * 1024;

const widened = new WeakSet<Http2Session>();

function widen(session: Http2Session | undefined): void {
  if (!session || widened.has(session) || session.destroyed || session.closed) return;
  widened.add(session);
  try {
    session.setLocalWindowSize(HUB_CONNECTION_WINDOW_BYTES);
    session.settings({ initialWindowSize: HUB_STREAM_WINDOW_BYTES });
  } catch {
    // A session closing meanwhile: nothing to widen.
  }
}

/** A grpc-js server interceptor that widens each connection's receive windows; it passes the call on unchanged. */
export const receiveWindowInterceptor: ServerInterceptor = (_method, call) => {
  widen((call as unknown as { stream?: ServerHttp2Stream }).stream?.session);
  // grpc-js chains interceptors from the base call, which is not a ServerInterceptingCall but serves as one.
  return call as ServerInterceptingCall;
};
