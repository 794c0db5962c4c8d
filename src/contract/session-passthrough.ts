/**
 * The session half of the runner's pass-through of terminal output to the hub
 * (attach-passthrough.ts has the hub half): SessionService.Attach with the session's answers left
 * as the session encoded them (AttachResponse bytes), and a domain event encoded the same way.
 * Kept apart from the hub half so that a runner without a hub never loads the hub's contract.
 */
import { AttachRequest, AttachResponse } from '../../gen/hapi/session/v1/session.js';
import type { ViewerEvent } from './session-types.js';
import { viewerEventToProto } from './session.js';

/** A message type whose encoded form is the value itself (already encoded bytes). */
export const encodedBytes = {
  encode: (bytes: Uint8Array) => ({ finish: () => bytes }),
  decode: (bytes: Uint8Array) => bytes,
  fromPartial: (bytes: Uint8Array) => bytes,
};

/** SessionService.Attach with the session's answers left encoded (AttachResponse bytes). */
export const SessionAttachPassthroughDefinition = {
  name: 'SessionService',
  fullName: 'hapi.session.v1.SessionService',
  methods: {
    attach: { name: 'Attach', requestType: AttachRequest, requestStream: true, responseType: encodedBytes, responseStream: true, options: {} },
  },
} as const;

/** A domain event as the session would have encoded it (an ended session's kept screen and exit). */
export function encodedViewerEvent(e: ViewerEvent): Uint8Array {
  return AttachResponse.encode(viewerEventToProto(e)).finish();
}
