import { describe, expect, it } from 'vitest';
import { AttachStreamRequest } from '../../gen/hapi/hub/v1/machine.js';
import { AttachResponse } from '../../gen/hapi/session/v1/session.js';
import { attachStreamRequestBytes, attachStreamResponseBytes } from './attach-passthrough.js';
import { encodedViewerEvent } from './session-passthrough.js';

describe('attach pass-through', () => {
  it("wraps a session's encoded answer as the AttachStreamRequest the generated encoder would write", () => {
    for (const size of [0, 1, 127, 128, 65_536, 300_000]) {
      const data = Buffer.alloc(size, 0x61);
      const response: AttachResponse = { kind: { $case: 'output', value: { offset: 1_234_567_890_123, data } } };
      const raw = AttachResponse.encode(response).finish();
      const wrapped = attachStreamResponseBytes(raw);
      expect(Buffer.from(wrapped)).toEqual(Buffer.from(AttachStreamRequest.encode({ message: { $case: 'response', value: response } }).finish()));
      const back = AttachStreamRequest.decode(wrapped);
      expect(back.message?.$case).toBe('response');
    }
  });

  it('encodes domain events and other requests as the contract does', () => {
    const exited = encodedViewerEvent({ kind: 'exited', status: { exitCode: 3 } });
    expect(AttachResponse.decode(exited).kind?.$case).toBe('exited');
    const open = attachStreamRequestBytes({ message: { $case: 'open', value: { machineId: 'm', linkId: 'l', attachId: 'a' } } });
    expect(AttachStreamRequest.decode(open).message).toEqual({ $case: 'open', value: { machineId: 'm', linkId: 'l', attachId: 'a' } });
  });
});
