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
import { attachOutputHead } from './attach-wire.js';

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
 * data (attach-wire.ts) and the data itself, not copied; the session's server writes them one
 * after the other (grpc-wire.ts EncodedMessage).
 */
export function attachOutputParts(offset: number, data: Uint8Array): [Uint8Array, Uint8Array] {
  return [attachOutputHead(offset, data.length), data];
}
