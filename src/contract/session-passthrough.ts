/**
 * The session half of the runner's pass-through of terminal output to the hub
 * (attach-passthrough.ts has the hub half): the session's answers stay as the session encoded
 * them (AttachResponse bytes; runner/terminals/session-link.ts reads them so), and a domain
 * event is encoded the same way. Kept apart from the hub half so that a runner without a hub
 * never loads the hub's contract.
 */
import { AttachRequest, AttachResponse } from '../../gen/hapi/session/v1/session.js';
import type { ViewerEvent, ViewerMessage } from './session-types.js';
import { viewerEventToProto } from './session.js';
import { viewerMessageToProto } from './session-viewer.js';
import { varintLength, writeVarint } from './varint.js';

/** SessionService.Attach's path, for a client that reads the answers as they were encoded. */
export const SESSION_ATTACH_PATH = '/hapi.session.v1.SessionService/Attach';

/** A viewer's message to a session, encoded (AttachRequest). */
export function encodedViewerMessage(m: ViewerMessage): Uint8Array {
  return AttachRequest.encode(viewerMessageToProto(m)).finish();
}

/** A domain event as the session would have encoded it (an ended session's kept screen and exit). */
export function encodedViewerEvent(e: ViewerEvent): Uint8Array {
  return AttachResponse.encode(viewerEventToProto(e)).finish();
}

/**
 * AttachResponse { output { offset, data } } as two parts of one message: its fields up to the
 * data (a few bytes, made here) and the data itself, not copied; the session's server writes
 * them one after the other (grpc-wire.ts EncodedMessage). The bytes ts-proto writes for it,
 * which the runner's pass-through reads as output (attach-coalesce.ts outputOf).
 */
export function attachOutputParts(offset: number, data: Uint8Array): [Uint8Array, Uint8Array] {
  // AttachOutput: offset (field 1, varint; left out when 0, as proto3 does), data (field 2, bytes).
  const output = (offset > 0 ? 1 + varintLength(offset) : 0) + 1 + varintLength(data.length) + data.length;
  const head = Buffer.allocUnsafe(1 + varintLength(output) + output - data.length);
  head[0] = 0x12; // AttachResponse.output
  let pos = writeVarint(head, 1, output);
  if (offset > 0) {
    head[pos++] = 0x08;
    pos = writeVarint(head, pos, offset);
  }
  head[pos++] = 0x12;
  writeVarint(head, pos, data.length);
  return [head, data];
}
