// The page's attach client (web/src/terminal/attach-socket.ts) against a fake socket and a fake
// clock: hello with the held offset, output in order without duplicates, reconnect after the
// close codes the hub uses for "come back later", no retry after a refusal.
import { describe, expect, it } from 'vitest';
import { backoffDelay, createAttachSocket, type AttachState, type Clock, type SocketLike } from '../web/src/terminal/attach-socket.js';

class FakeSocket implements SocketLike {
  binaryType = 'blob';
  readyState = 0;
  sent: (string | Uint8Array)[] = [];
  closedWith: number | undefined;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string | Uint8Array) {
    this.sent.push(data);
  }
  close(code = 1005) {
    this.closedWith = code;
    this.readyState = 3;
  }
  // What the server does:
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  text(msg: unknown) {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  output(offset: number, text: string) {
    const body = new TextEncoder().encode(text);
    const frame = new Uint8Array(8 + body.length);
    new DataView(frame.buffer).setBigUint64(0, BigInt(offset));
    frame.set(body, 8);
    this.onmessage?.({ data: frame.buffer });
  }
  drop(code: number, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  hello() {
    return JSON.parse(this.sent[0] as string) as Record<string, unknown>;
  }
}

function fakeClock() {
  let t = 0;
  const timers: { at: number; fn: () => void; id: number }[] = [];
  let next = 1;
  const clock: Clock = {
    now: () => t,
    setTimeout: (fn, ms) => {
      timers.push({ at: t + ms, fn, id: next });
      return next++;
    },
    clearTimeout: (h) => {
      const i = timers.findIndex((x) => x.id === h);
      if (i >= 0) timers.splice(i, 1);
    },
  };
  return {
    clock,
    pending: () => timers.map((x) => x.at - t),
    advance(ms: number) {
      t += ms;
      for (const due of timers.filter((x) => x.at <= t)) {
        timers.splice(timers.indexOf(due), 1);
        due.fn();
      }
    },
  };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

function setup(mode: 'interactive' | 'read-only' = 'interactive', size = { cols: 48, rows: 20 }) {
  const sockets: FakeSocket[] = [];
  const shown: string[] = [];
  const states: AttachState[] = [];
  const details: string[] = [];
  const problems: string[] = [];
  const exits: unknown[] = [];
  const time = fakeClock();
  const decoder = new TextDecoder();
  const client = createAttachSocket({
    url: () => `ws://hub/attach?n=${sockets.length}`,
    mode,
    size: () => ({ ...size }),
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    clock: time.clock,
    random: () => 0,
    handlers: {
      snapshot: (s) => shown.push(`[snapshot@${s.offset}]${s.screen}`),
      output: (b) => shown.push(decoder.decode(b)),
      state: (s, why) => {
        states.push(s);
        details.push(why);
      },
      problem: (p) => problems.push(`${p.code}: ${p.message}`),
      exited: (e) => exits.push(e),
    },
  });
  return { client, sockets, shown, states, details, problems, exits, time, size, last: () => sockets[sockets.length - 1]! };
}

describe('attach socket', () => {
  it('says hello, shows the snapshot then output, and drops what it already holds', async () => {
    const t = setup();
    await flush();
    const ws = t.last();
    expect(ws.binaryType).toBe('arraybuffer');
    ws.open();
    expect(ws.hello()).toEqual({ type: 'hello', mode: 'interactive', cols: 48, rows: 20 });
    ws.text({ type: 'snapshot', screen: 'hi', cols: 48, rows: 20, cursor: { x: 2, y: 0 }, offset: '10' });
    ws.output(10, 'abc');
    ws.output(11, 'bcd'); // overlaps: only "d" is new
    ws.output(5, 'old'); // entirely below the offset held
    ws.output(14, 'e');
    expect(t.shown).toEqual(['[snapshot@10]hi', 'abc', 'd', 'e']);
    expect(t.client.offset()).toBe(15n);
    expect(t.states).toEqual(['connecting', 'live']);
  });

  it('types keystrokes as binary frames and the composer as an input frame', async () => {
    const t = setup();
    await flush();
    const ws = t.last();
    expect(t.client.type('x')).toBe(false); // not open yet
    ws.open();
    expect(t.client.type('é\x03')).toBe(true);
    expect(t.client.input('fix the test', { paste: true, enter: true })).toBe(true);
    t.client.resize(60, 30);
    expect(ws.sent[1]).toEqual(new TextEncoder().encode('é\x03'));
    expect(JSON.parse(ws.sent[2] as string)).toEqual({ type: 'input', text: 'fix the test', paste: true, enter: true });
    expect(JSON.parse(ws.sent[3] as string)).toEqual({ type: 'resize', cols: 60, rows: 30 });
  });

  it('reconnects after 1011/1012/1006 with the last offset, backing off up to the cap', async () => {
    const t = setup();
    await flush();
    t.last().open();
    t.last().text({ type: 'snapshot', screen: '', cols: 48, rows: 20, cursor: { x: 0, y: 0 }, offset: '100' });
    t.last().output(100, 'xyz');

    t.last().drop(1012, 'hub restarting');
    expect(t.states.at(-1)).toBe('reconnecting');
    expect(t.time.pending()).toEqual([375]); // 500 ms less the jitter (random pinned at 0)
    t.time.advance(375);
    await flush();
    expect(t.sockets).toHaveLength(2);
    t.last().open();
    expect(t.last().hello()).toMatchObject({ lastOffset: '103' });
    // The resume overlaps what is on screen: no duplicate.
    t.last().output(101, 'yz!');
    expect(t.shown.slice(-1)).toEqual(['!']);

    // Failures in a row double the delay, up to the cap.
    const delays: number[] = [];
    for (const code of [1011, 1006, 1006, 1006, 1006, 1006, 1006]) {
      t.last().drop(code);
      delays.push(t.time.pending()[0]!);
      t.time.advance(t.time.pending()[0]!);
      await flush();
      t.last().open();
    }
    expect(delays).toEqual([750, 1500, 3000, 6000, 7500, 7500, 7500]);
    // A connection that stayed up a while resets the backoff.
    t.time.advance(5_000);
    t.last().drop(1011);
    expect(t.time.pending()).toEqual([375]);
  });

  it('asks again from what it holds when output skips ahead, and never shows the gap', async () => {
    const t = setup();
    await flush();
    t.last().open();
    t.last().text({ type: 'snapshot', screen: '', cols: 48, rows: 20, cursor: { x: 0, y: 0 }, offset: '0' });
    t.last().output(0, 'ab');
    t.last().output(5, 'later');
    expect(t.shown).toEqual(['[snapshot@0]', 'ab']);
    expect(t.last().closedWith).toBe(4000);
    t.last().drop(4000);
    t.time.advance(t.time.pending()[0]!);
    await flush();
    t.last().open();
    expect(t.last().hello()).toMatchObject({ lastOffset: '2' });
  });

  it('shows an error frame and does not retry a refusal', async () => {
    const t = setup();
    await flush();
    t.last().open();
    t.last().text({ type: 'error', code: 'NOT_FOUND', message: 'no session abc' });
    t.last().drop(4404, 'unknown session');
    expect(t.problems).toEqual(['NOT_FOUND: no session abc']);
    expect(t.states.at(-1)).toBe('ended');
    expect(t.time.pending()).toEqual([]);
    t.time.advance(60_000);
    await flush();
    expect(t.sockets).toHaveLength(1);
  });

  it('a passing refusal (machine offline, then 1011) is the reconnect\'s reason, not a problem', async () => {
    const t = setup();
    await flush();
    t.last().open();
    t.last().text({ type: 'snapshot', screen: '', cols: 48, rows: 20, cursor: { x: 0, y: 0 }, offset: '7' });
    t.last().drop(1006);
    t.time.advance(t.time.pending()[0]!);
    await flush();
    t.last().open();
    // Open is not attached: live only once the hub says so, which a refusal never does.
    expect(t.states.at(-1)).toBe('reconnecting');
    t.last().text({ type: 'error', code: 'UNAVAILABLE', message: 'machine m is offline' });
    t.last().drop(1011, 'UNAVAILABLE');
    expect(t.problems).toEqual([]);
    expect(t.states.slice(-3)).toEqual(['live', 'reconnecting', 'reconnecting']);
    expect(t.states.at(-1)).toBe('reconnecting');
    expect(t.details.at(-1)).toBe('machine m is offline');
    // The next drop without an error frame says only how it closed.
    t.time.advance(t.time.pending()[0]!);
    await flush();
    t.last().open();
    t.last().drop(1006);
    expect(t.details.at(-1)).toBe('connection closed (1006)');
    // The machine is back: an idle terminal resumes without a frame of output, and is live.
    t.time.advance(t.time.pending()[0]!);
    await flush();
    t.last().open();
    t.last().text({ type: 'attached' });
    expect(t.states.at(-1)).toBe('live');
  });

  it('a reconnect sends its size only when the window changed since it last told the session', async () => {
    const t = setup();
    await flush();
    t.last().open();
    t.last().text({ type: 'snapshot', screen: '', cols: 48, rows: 20, cursor: { x: 0, y: 0 }, offset: '5' });
    t.last().drop(1012);
    t.time.advance(t.time.pending()[0]!);
    await flush();
    t.last().open();
    expect(t.last().hello()).toEqual({ type: 'hello', mode: 'interactive', lastOffset: '5' });
    // Resized while the link was down (the resize could not be sent): the next hello carries it.
    t.last().drop(1006);
    t.size.rows = 18;
    t.client.resize(48, 18);
    t.time.advance(t.time.pending()[0]!);
    await flush();
    t.last().open();
    expect(t.last().hello()).toEqual({ type: 'hello', mode: 'interactive', cols: 48, rows: 18, lastOffset: '5' });
    // Resized while connected (sent then): a later reconnect has nothing to change.
    t.size.rows = 22;
    t.client.resize(48, 22);
    t.last().drop(1006);
    t.time.advance(t.time.pending()[0]!);
    await flush();
    t.last().open();
    expect(t.last().hello()).toEqual({ type: 'hello', mode: 'interactive', lastOffset: '5' });
    // A manual reconnect is a fresh attach: it says its size.
    t.client.reconnect();
    await flush();
    t.last().open();
    expect(t.last().hello()).toEqual({ type: 'hello', mode: 'interactive', cols: 48, rows: 22, lastOffset: '5' });
  });

  it('reports the exit and stays ended after 1000', async () => {
    const t = setup();
    await flush();
    t.last().open();
    t.last().text({ type: 'snapshot', screen: 'bye', cols: 48, rows: 20, cursor: { x: 0, y: 0 }, offset: '3' });
    t.last().text({ type: 'exited', exitCode: 0, exitSignal: null });
    t.last().drop(1000);
    expect(t.exits).toEqual([{ exitCode: 0, exitSignal: null }]);
    expect(t.problems).toEqual([]);
    expect(t.states.at(-1)).toBe('ended');
    expect(t.time.pending()).toEqual([]);
  });

  it('re-attaches read-only from the same offset, and types nothing then', async () => {
    const t = setup();
    await flush();
    t.last().open();
    t.last().text({ type: 'snapshot', screen: '', cols: 48, rows: 20, cursor: { x: 0, y: 0 }, offset: '42' });
    t.client.setMode('read-only');
    expect(t.sockets[0]!.closedWith).toBe(1000);
    await flush();
    t.last().open();
    expect(t.last().hello()).toEqual({ type: 'hello', mode: 'read-only', cols: 48, rows: 20, lastOffset: '42' });
    expect(t.client.type('x')).toBe(false);
    expect(t.client.input('x', { paste: true, enter: true })).toBe(false);
    expect(t.last().sent).toHaveLength(1);
    // The old socket's late close changes nothing.
    t.sockets[0]!.drop(1006);
    expect(t.time.pending()).toEqual([]);
  });

  it('closes for good when the page closes it', async () => {
    const t = setup();
    await flush();
    t.last().open();
    t.client.close();
    t.last().drop(1006);
    expect(t.time.pending()).toEqual([]);
  });

  it('caps the backoff with jitter below the cap', () => {
    expect(backoffDelay(1, { initialMs: 500, maxMs: 10_000, healthyMs: 1 }, () => 0.999)).toBe(500);
    expect(backoffDelay(30, { initialMs: 500, maxMs: 10_000, healthyMs: 1 }, () => 0)).toBe(7500);
  });
});

describe('key bar bytes', () => {
  it('sends the keys a phone lacks, arrows in the cursor-key mode of the application, and a sticky Ctrl', async () => {
    const { barKeyBytes, withCtrl } = await import('../web/src/terminal/keys.js');
    expect(barKeyBytes('shift-tab', false)).toBe('\x1b[Z');
    expect(barKeyBytes('up', false)).toBe('\x1b[A');
    expect(barKeyBytes('up', true)).toBe('\x1bOA');
    expect(barKeyBytes('ctrl-c', false)).toBe('\x03');
    expect(withCtrl('c')).toBe('\x03');
    expect(withCtrl('D')).toBe('\x04');
    expect(withCtrl('[x')).toBe('\x1bx');
    expect(withCtrl('?')).toBe('\x7f');
    expect(withCtrl('1')).toBe('1');
  });
});
