/**
 * How an Attach stream is opened, kept apart from what the attach client does with it: the
 * session's own socket (`hapi attach`) here, or the hub's HubService.AttachSession (`hapi attach
 * --machine`, hub-transport.ts), both on the node:http2 stream client (no grpc-js).
 */
import { ATTACH_METHOD_PATH, attachCodec, viewerEventFromProto, viewerMessageToProto } from '../../contract/session-viewer.js';
import type { AttachHello, ViewerEvent, ViewerMessage } from '../../contract/session-types.js';
import { ATTACH_WINDOW_BYTES, openBidiCall, type BidiCall } from '../../shared/grpc-bidi-client.js';
import { fromClientError } from '../../shared/grpc-errors.js';

/** One open Attach stream. */
export interface AttachStream {
  /**
   * What the server sends, in order; ends after `exited` or when the server ends the stream.
   * Failures are domain errors (HapiError): Unavailable when the stream dropped or could not be
   * opened (worth reconnecting), anything else is final (NotFound, PermissionDenied...).
   */
  readonly events: AsyncIterable<ViewerEvent>;
  /** Sends input, a resize or an ack; dropped once the stream has ended. */
  send(message: Exclude<ViewerMessage, { kind: 'hello' }>): void;
  /** Ends the stream from this side (detach); `events` then ends or fails. */
  close(): void;
}

export interface AttachTransport {
  /** Opens a stream that starts with `hello`. Never throws: failures come through `events`. */
  open(hello: AttachHello): AttachStream;
}

/** An open call as an AttachStream: the server's messages become domain events and errors. */
export function attachStreamOf<Req>(call: BidiCall<Req, Parameters<typeof viewerEventFromProto>[0]>, wrap: (m: ViewerMessage) => Req): AttachStream {
  return {
    events: {
      async *[Symbol.asyncIterator]() {
        try {
          for await (const message of call.messages) yield viewerEventFromProto(message);
        } catch (err) {
          throw fromClientError(err);
        }
      },
    },
    send: (message) => call.send(wrap(message)),
    close: () => call.cancel(),
  };
}

/** Attach over the session process's own Unix socket (SessionService.Attach). */
export function createSessionSocketTransport(socketPath: string): AttachTransport {
  return {
    open(hello) {
      const call = openBidiCall({ socketPath, path: ATTACH_METHOD_PATH, encode: attachCodec.encodeRequest, decode: attachCodec.decodeResponse, windowBytes: ATTACH_WINDOW_BYTES });
      // A terminal on the session's own machine: a person there answers the agent's prompts.
      call.send(viewerMessageToProto({ kind: 'hello', hello: { ...hello, localTerminal: true } }));
      return attachStreamOf(call, viewerMessageToProto);
    },
  };
}
