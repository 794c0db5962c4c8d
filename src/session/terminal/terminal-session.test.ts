import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { ViewerEvent } from '../../contract/session-types.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOutputRing } from './output-ring.js';
import { openOutputSpool } from './output-spool.js';
import type { PtyExit, PtyHost } from './pty-host.js';
import { createScreenModel } from './screen-model.js';
import { createTerminalSession } from './terminal-session.js';

/** A PTY stand-in: `emit` is the agent writing, `written` what was typed into it. */
function fakePty() {
  let listener: (data: Buffer) => void = () => {};
  let exit: (e: PtyExit) => void = () => {};
  const written: string[] = [];
  const sizes: string[] = [];
  const flow: string[] = [];
  const pty: PtyHost & { cols: number; rows: number } = {
    pid: 4242,
    cols: 80,
    rows: 24,
    onData: (l) => (listener = l),
    exited: new Promise((r) => (exit = r)),
    write: (d) => void written.push(d.toString()),
    resize: (c, r) => {
      sizes.push(`${c}x${r}`);
      pty.cols = c;
      pty.rows = r;
    },
    kill: () => {},
    pause: () => void flow.push('pause'),
    resume: () => void flow.push('resume'),
  };
  return { pty, emit: (s: string) => listener(Buffer.from(s)), exit: (e: PtyExit) => exit(e), written, sizes, flow };
}

function setup(opts: { ring?: number; window?: number; parseBacklog?: number; coalesceMs?: number } = {}) {
  const fake = fakePty();
  const logged: string[] = [];
  const terminal = createTerminalSession({
    pty: fake.pty,
    screen: createScreenModel({ cols: 80, rows: 24, scrollback: 100 }),
    ring: createOutputRing(opts.ring ?? 1024),
    identity: { id: 's1', agent: 'fixture', directory: '/w', startedBy: 'runner', pid: 1 },
    windowBytes: opts.window ?? 512,
    maxBacklogBytes: opts.parseBacklog,
    openSpool: opts.parseBacklog === undefined ? undefined : () => openOutputSpool(mkdtempSync(join(tmpdir(), 'hapi-spool-')), 's1'),
    coalesceMs: opts.coalesceMs,
    onOutput: (d) => logged.push(d.toString()),
    now: () => 5_000,
  });
  return { ...fake, terminal, logged };
}

const outputText = (events: (ViewerEvent | undefined)[]) =>
  events.map((e) => (e?.kind === 'output' ? e.data.toString() : '')).join('');

/** Heap in use after full collections (the test process gets `gc` from V8's flags). */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) gc();
  return getHeapStatistics().used_heap_size;
}

describe('terminal session', () => {
  it('keeps nothing per event a viewer waits for: its memory does not grow with the output it is sent', async () => {
    const t = setup({ ring: 64 * 1024, window: 32 * 1024, coalesceMs: 0 });
    const v = t.terminal.attach({ mode: 'interactive' });
    await v.next(); // the snapshot
    const round = async (events: number) => {
      for (let i = 0; i < events; i++) {
        // The viewer waits first (as a stream does), then the agent writes.
        const next = v.next();
        await new Promise((r) => setImmediate(r));
        t.emit('x');
        await next;
      }
    };
    await round(2_000); // warm up
    const before = heapAfterGc();
    await round(20_000);
    const grown = heapAfterGc() - before;
    // A wait that raced a promise pending for the viewer's life kept some 150 bytes per event (3 MB here).
    expect(grown).toBeLessThan(1024 * 1024);
    v.close();
  }, 60_000);

  it('starts a new viewer with a snapshot, then streams output with offsets', async () => {
    const t = setup();
    t.emit('hello ');
    const v = t.terminal.attach({ mode: 'interactive' });
    const first = await v.next();
    expect(first?.kind === 'snapshot' && first.snapshot.offset).toBe(6);
    t.emit('world');
    expect(await v.next()).toEqual({ kind: 'output', offset: 6, data: Buffer.from('world') });
    expect(t.logged.join('')).toBe('hello world');
    expect(t.terminal.info()).toMatchObject({ viewers: 1, outputOffset: 11, lastOutputAt: new Date(5_000), cols: 80, rows: 24 });
    v.close();
    expect(t.terminal.info().viewers).toBe(0);
  });

  it('resumes from an offset still in the ring without gap or duplicate, else snapshots', async () => {
    const t = setup({ ring: 16 });
    t.emit('0123456789');
    const resumed = t.terminal.attach({ mode: 'read-only', lastOffset: 4 });
    expect(await resumed.next()).toEqual({ kind: 'output', offset: 4, data: Buffer.from('456789') });
    t.emit('abcdefghij'); // the ring now holds offsets 4..20
    const gone = t.terminal.attach({ mode: 'read-only', lastOffset: 3 });
    expect((await gone.next())?.kind).toBe('snapshot');
    const future = t.terminal.attach({ mode: 'read-only', lastOffset: 99 });
    expect((await future.next())?.kind).toBe('snapshot');
  });

  it('drops the backlog of a viewer past its window and sends a fresh snapshot', async () => {
    const t = setup({ ring: 4096, window: 100 });
    const slow = t.terminal.attach({ mode: 'read-only' });
    await slow.next();
    for (let i = 0; i < 30; i++) t.emit('0123456789');
    // The model parsed it all: the snapshot is of the present (one that lags is the next test's).
    await t.terminal.screen();
    const event = await slow.next();
    expect(event?.kind === 'snapshot' && event.snapshot.offset).toBe(300);
    t.emit('!');
    expect(await slow.next()).toEqual({ kind: 'output', offset: 300, data: Buffer.from('!') });
  });

  it('a viewer that falls behind during a flood gets a snapshot where the model stands and everything after it, to the end; reading is never paused for it', async () => {
    // A ring and a window far smaller than the flood; the parser only gets a share of the thread.
    const ring = 64 * 1024;
    const t = setup({ ring, window: 16 * 1024, parseBacklog: 64 * 1024 * 1024, coalesceMs: 0 });
    const v = t.terminal.attach({ mode: 'read-only' });
    expect((await v.next())?.kind).toBe('snapshot');
    const sent: string[] = [];
    let total = 0;
    const received: { offset: number; data: Buffer }[] = [];
    let next = 0;
    const take = (e: ViewerEvent | undefined) => {
      if (e?.kind === 'snapshot') {
        // Forward only: never a duplicate.
        expect(e.snapshot.offset).toBeGreaterThan(next);
        next = e.snapshot.offset;
      } else if (e?.kind === 'output') {
        expect(e.offset).toBe(next);
        received.push({ offset: e.offset, data: e.data });
        next += e.data.length;
      } else throw new Error(`unexpected ${JSON.stringify(e)}`);
    };
    // The stream must never go quiet while output exists: each event comes within a generous deadline.
    const within = <T>(p: Promise<T>) => Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the viewer got nothing at ${next} of ${total}`)), 20_000))]);
    for (let burst = 0; burst < 40; burst++) {
      for (let i = 0; i < 20; i++) {
        const line = `flood ${String(burst * 20 + i).padStart(8, '0')} ${'x'.repeat(5000)}\r\n`;
        sent.push(line);
        total += line.length;
        t.emit(line);
      }
      // One event per burst of 100 KB: the viewer falls further behind with every burst.
      take(await within(v.next()));
      await new Promise((r) => setImmediate(r));
    }
    while (next < total) take(await within(v.next()));
    expect(next).toBe(total);
    expect(t.flow).toEqual([]);
    // Whether this viewer replayed from the spool, got snapshots, or both depends on how far the
    // parser got between bursts (its share of the thread is timed); every run checks the same
    // invariants. screen-feeder.test.ts covers reads from the spool deterministically.
    // Every byte received is the byte sent at that offset.
    const all = Buffer.from(sent.join(''));
    for (const r of received) expect(r.data.equals(all.subarray(r.offset, r.offset + r.data.length))).toBe(true);
    v.close();
    t.terminal.dispose();
  });

  it('refuses input and resize from a read-only viewer, and a second hello', () => {
    const t = setup();
    const ro = t.terminal.attach({ mode: 'read-only' });
    expect(() => ro.handle({ kind: 'input', data: Buffer.from('x') })).toThrow(expect.objectContaining({ kind: 'PermissionDenied' }));
    expect(() => ro.handle({ kind: 'resize', size: { cols: 10, rows: 10 } })).toThrow(expect.objectContaining({ kind: 'PermissionDenied' }));
    const rw = t.terminal.attach({ mode: 'interactive', size: { cols: 100, rows: 30 } });
    expect(() => rw.handle({ kind: 'hello', hello: { mode: 'interactive' } })).toThrow(expect.objectContaining({ kind: 'InvalidArgument' }));
    rw.handle({ kind: 'input', data: Buffer.from('x') });
    rw.handle({ kind: 'resize', size: { cols: 90, rows: 20 } });
    expect(t.written).toEqual(['x']);
    expect(t.sizes).toEqual(['100x30', '90x20']);
    expect(t.terminal.info()).toMatchObject({ cols: 90, rows: 20 });
  });

  it('gives the terminal the size of the viewer that last typed or resized', () => {
    const t = setup();
    const big = t.terminal.attach({ mode: 'interactive', size: { cols: 120, rows: 40 } });
    const small = t.terminal.attach({ mode: 'interactive', size: { cols: 60, rows: 20 } });
    t.terminal.attach({ mode: 'read-only', size: { cols: 10, rows: 10 } });
    expect(t.terminal.info()).toMatchObject({ cols: 60, rows: 20 });
    big.handle({ kind: 'input', data: Buffer.from('a') });
    expect(t.terminal.info()).toMatchObject({ cols: 120, rows: 40 });
    big.handle({ kind: 'input', data: Buffer.from('b') });
    small.handle({ kind: 'resize', size: { cols: 70, rows: 25 } });
    small.handle({ kind: 'input', data: Buffer.from('c') });
    expect(t.sizes).toEqual(['120x40', '60x20', '120x40', '70x25']);
  });

  it('sends text as a bracketed paste only when the application enabled it', async () => {
    const t = setup();
    t.terminal.sendInput({ text: 'a', enter: true });
    t.emit('\x1b[?2004h');
    await t.terminal.screen();
    t.terminal.sendInput({ text: 'b', enter: false });
    t.terminal.sendInput({ data: Buffer.from('\x03'), enter: false });
    expect(t.written).toEqual(['a', '\r', '\x1b[200~b\x1b[201~', '\x03']);
  });

  it('tells viewers the exit after the last output, then ends; input is refused afterwards', async () => {
    const t = setup();
    const v = t.terminal.attach({ mode: 'interactive' });
    await v.next();
    const rest = (async () => {
      const events: (ViewerEvent | undefined)[] = [];
      for (let e = await v.next(); e; e = await v.next()) events.push(e);
      return events;
    })();
    t.emit('bye');
    t.exit({ exitCode: 3 });
    const events = await rest;
    expect(outputText(events)).toBe('bye');
    expect(events.at(-1)).toEqual({ kind: 'exited', status: { exitCode: 3 } });
    expect(await t.terminal.exited).toEqual({ exitCode: 3 });
    expect(() => t.terminal.sendInput({ text: 'x', enter: false })).toThrow(expect.objectContaining({ kind: 'FailedPrecondition' }));
    expect(t.terminal.info().exitStatus).toEqual({ exitCode: 3 });
  });

  it('ends a waiting viewer when it is closed', async () => {
    const t = setup();
    const v = t.terminal.attach({ mode: 'read-only' });
    await v.next();
    const waiting = v.next();
    v.close();
    expect(await waiting).toBeUndefined();
  });

  it('copies output into the buffer a viewer passes, every event a view of it, offsets exact', async () => {
    const t = setup({ ring: 64 * 1024, window: 32 * 1024, coalesceMs: 0 });
    const v = t.terminal.attach({ mode: 'interactive' });
    await v.next();
    const into = Buffer.alloc(64 * 1024);
    const got: string[] = [];
    for (const text of ['one', 'two', 'three']) {
      t.emit(text);
      const e = await v.next(into);
      expect(e?.kind === 'output' && e.data.buffer).toBe(into.buffer);
      if (e?.kind === 'output') got.push(`${e.offset}:${e.data.toString()}`);
    }
    expect(got).toEqual(['0:one', '3:two', '6:three']);
    v.close();
  });

  it('gives the screen without its ANSI form when only the text is asked for', async () => {
    const t = setup();
    t.emit('\x1b[31mred\x1b[0m line\r\nnext');
    const full = await t.terminal.screen();
    const text = await t.terminal.screen({ textOnly: true });
    expect(full.ansi).toContain('\x1b[31m');
    expect(text).toEqual({ ...full, ansi: '' });
  });

  it('pauses reading while the screen model is too far behind, and resumes once it caught up', async () => {
    const t = setup({ ring: 4096, parseBacklog: 100 });
    for (let i = 0; i < 30; i++) t.emit('0123456789');
    expect(t.flow).toEqual(['pause']);
    const screen = await t.terminal.screen();
    expect(screen.offset).toBe(300);
    expect(t.flow).toEqual(['pause', 'resume']);
  });

  it('gathers a burst of reads into one event with exact offsets; output after a quiet spell or after typing goes at once', async () => {
    // A hold far longer than the test: only a full chunk, typing or the exit may end it.
    const t = setup({ ring: 256 * 1024, window: 200 * 1024, coalesceMs: 600_000 });
    const v = t.terminal.attach({ mode: 'interactive' });
    expect((await v.next())?.kind).toBe('snapshot');
    t.emit('a');
    expect(await v.next()).toEqual({ kind: 'output', offset: 0, data: Buffer.from('a') });
    // Reads in separate turns of the event loop, as a PTY delivers a burst: held, then one event.
    const burst = v.next();
    t.emit('b');
    await new Promise((r) => setImmediate(r));
    t.emit('c');
    await new Promise((r) => setImmediate(r));
    v.handle({ kind: 'input', data: Buffer.from('k') });
    expect(await burst).toEqual({ kind: 'output', offset: 1, data: Buffer.from('bc') });
    // A full chunk's worth ends the hold too; nothing is lost or repeated.
    const big = 'x'.repeat(64 * 1024);
    const full = v.next();
    t.emit('d');
    t.emit(big);
    expect(await full).toEqual({ kind: 'output', offset: 3, data: Buffer.from(('d' + big).slice(0, 64 * 1024)) });
    const rest = v.next();
    t.exit({ exitCode: 0 });
    expect(await rest).toEqual({ kind: 'output', offset: 3 + 64 * 1024, data: Buffer.from('x') });
    expect(await v.next()).toEqual({ kind: 'exited', status: { exitCode: 0 } });
  });
});
