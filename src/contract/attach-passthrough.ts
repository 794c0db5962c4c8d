/**
 * The runner's pass-through of terminal output to the hub. AttachStreamRequest.response is the
 * session's own `hapi.session.v1.AttachResponse`, "unchanged and in order", so the runner has no
 * need to decode what a session sends and encode it again: it reads each answer as its encoded
 * bytes and wraps them as field 2 of an AttachStreamRequest (a tag and a length in front), in a
 * gRPC frame of its own making (the runner writes attach streams on node:http2:
 * runner/hub-link/attach-upstream.ts). That saves, per output message, a decode, a copy of the
 * output into a domain object, an encode and the encoder's copy (bench/hub-attach.mjs, runner
 * CPU per MB). Contiguous output waiting for the hub is joined first (attach-coalesce.ts).
 *
 * This file is the hub half (loaded by the hub link only); session-passthrough.ts the session
 * half. The wire format is the contract's, byte for byte.
 */
import { AttachStreamRequest, AttachStreamResponse } from '../../gen/hapi/hub/v1/machine.js';
import { varintLength, writeVarint } from './attach-wire.js';

/** MachineService.AttachStream's path, for a client that frames its messages itself. */
export const ATTACH_STREAM_PATH = '/hapi.hub.v1.MachineService/AttachStream';

/** One hub -> runner message of an attach stream (attachStreamMessageFromProto validates it). */
export function decodeAttachStreamResponse(bytes: Uint8Array): AttachStreamResponse {
  return AttachStreamResponse.decode(bytes);
}

/**
 * The gRPC frame's prefix (flag, length) and the field head of AttachStreamRequest { response },
 * for a session's encoded AttachResponse of `responseLength` bytes that follows it.
 */
export function responseFrameHead(responseLength: number): Buffer {
  // Field 2, length-delimited: tag 0x12, then the length as a varint, then the bytes.
  const payload = 1 + varintLength(responseLength) + responseLength;
  const head = Buffer.allocUnsafe(5 + payload - responseLength);
  head[0] = 0;
  head.writeUInt32BE(payload, 1);
  head[5] = 0x12;
  writeVarint(head, 6, responseLength);
  return head;
}

/**
 * gRPC frame of AttachStreamRequest { response: <the session's encoded AttachResponse> }, as its
 * parts: the frame's few bytes in front, then the answer itself, not copied (written one after
 * the other: BidiCall.write).
 */
export function responseFrame(encodedResponse: Uint8Array): Uint8Array[] {
  return [responseFrameHead(encodedResponse.length), encodedResponse];
}

/** Any other AttachStreamRequest (open, error), encoded. */
export function attachStreamRequestBytes(request: AttachStreamRequest): Uint8Array {
  return AttachStreamRequest.encode(request).finish();
}
