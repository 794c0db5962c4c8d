/**
 * The runner's attach streams to the hub (MachineService.AttachStream) on node:http2 rather than
 * grpc-js: the runner writes whole gRPC frames it built itself (attach-coalesce.ts) and sees the
 * stream's own backpressure (write() false, then 'drain'), which is what tells it to coalesce;
 * grpc-js's per-message layers were most of the runner's CPU per MB relayed.
 *
 * One HTTP/2 connection per hub link, opened with the first attach the link asks for, and
 * closed with the link: attach streams never queue in front of the link's alive messages and
 * relayed calls, and a link's replacement never inherits a connection that may be dead (the
 * link's keepalive is what notices that; its end ends the attaches it asked for).
 */
import { connect, type ClientHttp2Session } from 'node:http2';
import { isIP } from 'node:net';
import type { AttachStreamResponse } from '../../contract/machine-link.js';
import { ATTACH_STREAM_PATH, decodeAttachStreamResponse } from '../../contract/attach-passthrough.js';
import { parseHubUrl } from '../../shared/config.js';
import { openBidiCall, type BidiCall } from '../../shared/grpc-bidi-client.js';
import { hubTrustedCas } from '../../shared/tls-trust.js';

/** Receive window for what the hub sends down (input, resizes): small messages. */
const WINDOW_BYTES = 256 * 1024;

/**
 * One open attach stream to the hub: whole gRPC frames up (write() false: wait for drained()),
 * the hub's messages down (ending OK, or throwing a ClientError with the hub's status).
 */
export type UpstreamCall = Pick<BidiCall<never, AttachStreamResponse>, 'write' | 'drained' | 'end' | 'cancel' | 'messages'>;

export interface AttachUpstreams {
  /** Opens an attach stream on `linkId`'s connection to `url`. */
  open(linkId: string, url: string): UpstreamCall;
  /** The link ended: its connection is closed (its streams are reset). */
  closeLink(linkId: string): void;
  close(): void;
}

function connectHub(url: string): ClientHttp2Session {
  const addr = parseHubUrl(url);
  const authority = `${addr.tls ? 'https' : 'http'}://${addr.target}`;
  const options = { settings: { initialWindowSize: WINDOW_BYTES } };
  // Node's TLS reads NODE_EXTRA_CA_CERTS itself; the trusted CAs (with this HAPI_HOME's own) are added here. No SNI for an IP address.
  const session = addr.tls ? connect(authority, { ...options, ca: hubTrustedCas(), ...(isIP(addr.host) ? { servername: '' } : {}) }) : connect(authority, options);
  session.on('error', () => {
    // Surfaces on the streams.
  });
  return session;
}

export function createAttachUpstreams(token: string): AttachUpstreams {
  const sessions = new Map<string, ClientHttp2Session>();

  function sessionFor(linkId: string, url: string): ClientHttp2Session {
    const s = sessions.get(linkId);
    if (s && !s.closed && !s.destroyed) return s;
    const fresh = connectHub(url);
    sessions.set(linkId, fresh);
    fresh.once('close', () => {
      if (sessions.get(linkId) === fresh) sessions.delete(linkId);
    });
    return fresh;
  }

  return {
    open: (linkId, url) =>
      openBidiCall<never, AttachStreamResponse>({
        session: sessionFor(linkId, url),
        path: ATTACH_STREAM_PATH,
        headers: { authorization: `Bearer ${token}` },
        encode: () => new Uint8Array(0),
        decode: decodeAttachStreamResponse,
      }),
    closeLink(linkId) {
      const s = sessions.get(linkId);
      sessions.delete(linkId);
      s?.close();
    },
    close() {
      for (const s of sessions.values()) s.close();
      sessions.clear();
    },
  };
}
