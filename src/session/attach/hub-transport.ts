/**
 * `hapi attach --machine`'s transport: HubService.AttachSession on the node:http2 stream client
 * (h2c for http://, TLS for https://), with the CLI's hub token. Apart from transport.ts so a
 * local attach never loads the hub's messages.
 */
import { HUB_ATTACH_METHOD_PATH, hubAttachCodec } from '../../contract/hub.js';
import { parseHubUrl } from '../../shared/config.js';
import { openBidiCall } from '../../shared/grpc-bidi-client.js';
import { attachStreamOf, type AttachTransport } from './transport.js';

export interface HubTransportOptions {
  /** The hub's gRPC URL (HAPI_API_URL's forms: http(s)://host[:port] or host:port). */
  hubUrl: string;
  token: string;
  machineId: string;
  sessionId: string;
}

/**
 * Attach through the hub (HubService.AttachSession): each stream is a connection of its own to
 * the hub, so after a hub restart the next one simply dials again. The hub relays to the
 * machine's runner and resumes that side itself; this side resumes from the offset the attach
 * client holds, like any other transport.
 */
export function createHubTransport(o: HubTransportOptions): AttachTransport {
  const addr = parseHubUrl(o.hubUrl);
  const url = `${addr.tls ? 'https' : 'http'}://${addr.target}`;
  const headers = { authorization: `Bearer ${o.token}` };
  const target = { machineId: o.machineId, sessionId: o.sessionId };
  return {
    open(hello) {
      const call = openBidiCall({ url, headers, path: HUB_ATTACH_METHOD_PATH, encode: hubAttachCodec.encodeRequest, decode: hubAttachCodec.decodeResponse });
      call.send(hubAttachCodec.request(target, { kind: 'hello', hello }));
      return attachStreamOf(call, (m) => hubAttachCodec.request(undefined, m));
    },
  };
}
