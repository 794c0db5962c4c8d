import { describe, expect, it } from 'vitest';
import { AttachMode } from '../../gen/hapi/session/v1/session.js';
import { sessionInputFromProto, terminalInfoToProto, terminalSizeFromProto, viewerEventToProto, viewerMessageFromProto } from './session.js';
import { MAX_INPUT_BYTES } from './session-types.js';

const invalid = expect.objectContaining({ kind: 'InvalidArgument' });

describe('SessionService converters', () => {
  it('reads a hello: mode, optional size, optional offset', () => {
    expect(viewerMessageFromProto({ kind: { $case: 'hello', value: { mode: AttachMode.ATTACH_MODE_READ_ONLY, cols: 0, rows: 0, localTerminal: false } } })).toEqual({
      kind: 'hello',
      hello: { mode: 'read-only', size: undefined, lastOffset: undefined },
    });
    expect(viewerMessageFromProto({ kind: { $case: 'hello', value: { mode: AttachMode.ATTACH_MODE_INTERACTIVE, cols: 80, rows: 24, lastOffset: 9, localTerminal: false } } })).toEqual({
      kind: 'hello',
      hello: { mode: 'interactive', size: { cols: 80, rows: 24 }, lastOffset: 9 },
    });
  });

  it('refuses malformed messages with InvalidArgument', () => {
    const bad = [
      {},
      { kind: { $case: 'hello' as const, value: { mode: AttachMode.ATTACH_MODE_UNSPECIFIED, cols: 0, rows: 0, localTerminal: false } } },
      { kind: { $case: 'hello' as const, value: { mode: AttachMode.ATTACH_MODE_INTERACTIVE, cols: 80, rows: 0, localTerminal: false } } },
      { kind: { $case: 'hello' as const, value: { mode: AttachMode.ATTACH_MODE_INTERACTIVE, cols: 0, rows: 0, lastOffset: -1, localTerminal: false } } },
      { kind: { $case: 'resize' as const, value: { cols: 1001, rows: 10 } } },
      { kind: { $case: 'input' as const, value: { data: Buffer.alloc(MAX_INPUT_BYTES + 1) } } },
    ];
    for (const req of bad) expect(() => viewerMessageFromProto(req)).toThrow(invalid);
    expect(() => terminalSizeFromProto(0, 5)).toThrow(invalid);
    expect(() => sessionInputFromProto({ data: Buffer.alloc(0), text: '', enter: true })).toThrow(invalid);
    expect(() => sessionInputFromProto({ data: Buffer.from('a'), text: 'b', enter: false })).toThrow(invalid);
    expect(() => sessionInputFromProto({ data: Buffer.alloc(0), text: 'é'.repeat(MAX_INPUT_BYTES), enter: false })).toThrow(invalid);
  });

  it('reads input and writes events and info', () => {
    expect(sessionInputFromProto({ data: Buffer.alloc(0), text: 'hi', enter: true })).toEqual({ text: 'hi', enter: true });
    expect(viewerEventToProto({ kind: 'exited', status: { exitSignal: 'SIGKILL' } })).toEqual({
      kind: { $case: 'exited', value: { status: { exitCode: undefined, exitSignal: 'SIGKILL' } } },
    });
    const snap = viewerEventToProto({ kind: 'snapshot', snapshot: { ansi: 'x', cursor: { x: 1, y: 2 }, cols: 3, rows: 4, offset: 5 } });
    expect(snap.kind?.$case === 'snapshot' && Buffer.from(snap.kind.value.screen).toString()).toBe('x');
    const info = terminalInfoToProto({ id: 'a', agent: 'b', directory: '/d', cols: 1, rows: 2, startedBy: 'runner', pid: 3, viewers: 0, outputOffset: 7 });
    expect(info).toMatchObject({ protocolVersion: 1, outputOffset: 7, exitStatus: undefined, lastOutputAt: undefined });
  });
});
