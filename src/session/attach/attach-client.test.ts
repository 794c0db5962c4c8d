import { describe, expect, it } from 'vitest';
import type { AttachHello, ViewerEvent, ViewerMessage } from '../../contract/session-types.js';
import { NotFoundError, UnavailableError } from '../../shared/errors.js';
import { startAttach } from './attach-client.js';
import type { AttachStream, AttachTransport } from './transport.js';

/** A transport whose streams play scripted events (an Error ends a stream with it). */
function scriptedTransport(scripts: (ViewerEvent | Error)[][]) {
  const hellos: AttachHello[] = [];
  const sent: ViewerMessage[] = [];
  const transport: AttachTransport = {
    open(hello): AttachStream {
      hellos.push(hello);
      const script = scripts.shift() ?? [new UnavailableError('gone')];
      return {
        events: {
          async *[Symbol.asyncIterator]() {
            for (const step of script) {
              await Promise.resolve();
              if (step instanceof Error) throw step;
              yield step;
            }
          },
        },
        send: (m) => sent.push(m),
        close: () => {},
      };
    },
  };
  return { transport, hellos, sent };
}

const out = (offset: number, text: string): ViewerEvent => ({ kind: 'output', offset, data: Buffer.from(text) });

describe('attach client', () => {
  it('reattaches after a dropped stream with the offset it holds: no gap, no duplicate', async () => {
    const { transport, hellos } = scriptedTransport([
      [out(0, 'hello '), out(6, 'wor'), new UnavailableError('dropped')],
      // A server that resends from before the offset asked for: the overlap is skipped.
      [out(7, 'orld'), out(11, '!'), { kind: 'exited', status: { exitCode: 3 } }],
    ]);
    let shown = '';
    const client = startAttach({ transport, mode: 'interactive', size: () => ({ cols: 80, rows: 24 }), lastOffset: 0, sink: { snapshot: () => {}, output: (d) => (shown += d) } });
    expect(await client.done).toEqual({ kind: 'exited', status: { exitCode: 3 } });
    expect(shown).toBe('hello world!');
    expect(hellos).toEqual([
      { mode: 'interactive', size: { cols: 80, rows: 24 }, lastOffset: 0 },
      { mode: 'interactive', size: { cols: 80, rows: 24 }, lastOffset: 9 },
    ]);
  });

  it('a snapshot replaces what the sink holds and sets the offset; read-only viewers send no size', async () => {
    const snapshot = { ansi: 'SCREEN', cursor: { x: 0, y: 0 }, cols: 80, rows: 24, offset: 500 };
    const { transport, hellos } = scriptedTransport([[{ kind: 'snapshot', snapshot }, new UnavailableError('dropped')], [out(500, 'x'), { kind: 'exited', status: { exitSignal: 'SIGKILL' } }]]);
    const events: string[] = [];
    const client = startAttach({ transport, mode: 'read-only', size: () => ({ cols: 80, rows: 24 }), sink: { snapshot: (s) => events.push(s.ansi), output: (d) => events.push(d.toString()) } });
    expect(await client.done).toEqual({ kind: 'exited', status: { exitSignal: 'SIGKILL' } });
    expect(events).toEqual(['SCREEN', 'x']);
    expect(hellos.map((h) => [h.size, h.lastOffset])).toEqual([[undefined, undefined], [undefined, 500]]);
  });

  it('gives up after the reconnect budget, fails at once on a final error, and detaches on request', async () => {
    const lost = startAttach({ transport: scriptedTransport([]).transport, mode: 'interactive', reconnectForMs: 100, sink: { snapshot: () => {}, output: () => {} } });
    await expect(lost.done).rejects.toThrow(/lost the session's terminal/);
    const missing = startAttach({ transport: scriptedTransport([[new NotFoundError('no such session')]]).transport, mode: 'interactive', sink: { snapshot: () => {}, output: () => {} } });
    await expect(missing.done).rejects.toThrow('no such session');

    const { transport, sent } = scriptedTransport([[out(0, 'a'), new UnavailableError('dropped')]]);
    const client = startAttach({ transport, mode: 'interactive', sink: { snapshot: () => {}, output: () => client.detach() } });
    client.input(Buffer.alloc(70 * 1024));
    expect(sent.map((m) => (m.kind === 'input' ? m.data.length : 0))).toEqual([64 * 1024, 6 * 1024]);
    expect(await client.done).toEqual({ kind: 'detached' });
  });
});
