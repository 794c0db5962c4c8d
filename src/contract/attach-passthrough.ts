/**
 * The runner's pass-through of terminal output to the hub. AttachStreamRequest.response is the
 * session's own `hapi.session.v1.AttachResponse`, "unchanged and in order", so the runner has no
 * need to decode what a session sends and encode it again: it reads each answer as its encoded
 * bytes and wraps them as field 2 of an AttachStreamRequest (a tag and a length in front). That
 * saves, per output message, a decode, a copy of the output into a domain object, an encode and
 * the encoder's copy (bench/hub-attach.mjs, runner CPU per MB).
 *
 * This file is the hub half (loaded by the hub link only); session-passthrough.ts the session half.
 * Both definitions are shaped as ts-proto's, so nice-grpc takes them as it takes the generated
 * ones; only the encoded side differs. The wire format is the contract's, byte for byte.
 */
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { AttachStreamRequest, AttachStreamResponse } from '../../gen/hapi/hub/v1/machine.js';
import { encodedBytes } from './session-passthrough.js';

/** MachineService.AttachStream whose requests are sent as already encoded AttachStreamRequest bytes. */
export const AttachStreamPassthroughDefinition = {
  name: 'MachineService',
  fullName: 'hapi.hub.v1.MachineService',
  methods: {
    attachStream: { name: 'AttachStream', requestType: encodedBytes, requestStream: true, responseType: AttachStreamResponse, responseStream: true, options: {} },
  },
} as const;

/** AttachStreamRequest { response: <the session's encoded AttachResponse> }, without decoding it. */
export function attachStreamResponseBytes(encodedResponse: Uint8Array): Uint8Array {
  // Field 2, length-delimited: tag 0x12, then the length as a varint, then the bytes.
  const header = new BinaryWriter().uint32((2 << 3) | 2).uint32(encodedResponse.length).finish();
  const out = Buffer.allocUnsafe(header.length + encodedResponse.length);
  out.set(header, 0);
  out.set(encodedResponse, header.length);
  return out;
}

/** Any other AttachStreamRequest (open, error), encoded. */
export function attachStreamRequestBytes(request: AttachStreamRequest): Uint8Array {
  return AttachStreamRequest.encode(request).finish();
}
