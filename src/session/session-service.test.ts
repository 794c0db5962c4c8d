import { describe, expect, it } from 'vitest';
import type { AttachRequest } from '../contract/session.js';
import type { ViewerEvent } from '../contract/session-types.js';
import { EncodedMessage } from '../shared/grpc-wire.js';
import { createStreamTerminator } from '../shared/stream-terminator.js';
import type { ActivityTracker } from './activity/activity-tracker.js';
import { LENT_BUFFERS, createSessionService } from './session-service.js';
import type { TerminalSession, Viewer } from './terminal/terminal-session.js';

/** A terminal whose one viewer gets `events` small output events, each copied as the real one does. */
function terminalWithOutput(events: number) {
  const intos: (Buffer | undefined)[] = [];
  let offset = 0;
  const viewer: Viewer = {
    async next(into) {
      if (intos.length === events) return undefined;
      intos.push(into);
      const text = Buffer.from(`line ${intos.length}\r\n`);
      const data = into ? into.subarray(0, text.copy(into)) : Buffer.from(text);
      const e: ViewerEvent = { kind: 'output', offset, data };
      offset += data.length;
      return e;
    },
    handle() {},
    close() {},
  };
  const terminal = { attach: () => viewer } as unknown as TerminalSession;
  return { terminal, intos };
}

async function* hello(): AsyncIterable<AttachRequest> {
  yield { kind: { $case: 'hello', value: { mode: 1, cols: 80, rows: 24, lastOffset: undefined, localTerminal: false } } };
  await new Promise(() => {});
}

describe('SessionService.Attach', () => {
  it("writes output from the viewer's own buffers, lends the stream a few at most, and uses them again", async () => {
    const t = terminalWithOutput(60);
    const service = createSessionService(t.terminal, createStreamTerminator(), {} as ActivityTracker);
    const held: EncodedMessage[] = [];
    const text: string[] = [];
    for await (const m of service.attach(hello(), { signal: new AbortController().signal } as never)) {
      expect(m).toBeInstanceOf(EncodedMessage);
      const message = m as EncodedMessage;
      text.push(Buffer.from(message.parts[1]!).toString());
      // A stream that holds the first 20 (a slow peer), then is done with them all, and from
      // then on with each as soon as it has it.
      held.push(message);
      if (text.length >= 20) for (const h of held.splice(0)) h.written?.();
    }
    expect(text[0]).toBe('line 1\r\n');
    expect(text[59]).toBe('line 60\r\n');
    // While the stream held them: LENT_BUFFERS of the viewer's buffers, then copies of their own size.
    const first = t.intos.slice(0, 20);
    expect(new Set(first.filter((b) => b)).size).toBe(LENT_BUFFERS);
    expect(first.slice(LENT_BUFFERS).every((b) => b === undefined)).toBe(true);
    // Once given back, they are used again: no buffer beyond the first LENT_BUFFERS.
    const all = new Set(t.intos.filter((b) => b));
    expect(all.size).toBe(LENT_BUFFERS);
    expect(t.intos.slice(20).filter((b) => b).length).toBeGreaterThan(30);
  });
});
