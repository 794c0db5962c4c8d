import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createOutputRing } from './output-ring.js';
import { openOutputSpool, type OutputSpool } from './output-spool.js';
import { createScreenFeeder, MEMORY_BACKLOG_BYTES } from './screen-feeder.js';
import { createScreenModel, type ScreenModel } from './screen-model.js';

const COLS = 40;
const ROWS = 10;
const model = () => createScreenModel({ cols: COLS, rows: ROWS, scrollback: 500 });

/** Numbered lines, so a lost, repeated or reordered byte shows in the text. */
function lines(from: number, count: number): Buffer {
  let s = '';
  for (let i = from; i < from + count; i++) s += `\x1b[3${i % 8}mline ${String(i).padStart(6, '0')}\x1b[0m ${'x'.repeat(i % 23)}\r\n`;
  return Buffer.from(s);
}

/** The same output parsed directly, in step: what the fed model must end up showing. */
async function reference(chunks: (Buffer | { cols: number; rows: number })[]): Promise<ScreenModel> {
  const m = model();
  for (const c of chunks) {
    if (Buffer.isBuffer(c)) m.write(c);
    else {
      await m.flush();
      m.resize(c.cols, c.rows);
    }
  }
  await m.flush();
  return m;
}

function setup(o: { ring: number; maxBacklog: number; spool?: () => OutputSpool }) {
  const dir = mkdtempSync(join(tmpdir(), 'hapi-feeder-'));
  const screen = model();
  const flow: string[] = [];
  const errors: unknown[] = [];
  let spool: OutputSpool | undefined;
  const feeder = createScreenFeeder({
    ring: createOutputRing(o.ring),
    screen,
    pause: () => void flow.push('pause'),
    resume: () => void flow.push('resume'),
    openSpool: o.spool ?? (() => (spool = openOutputSpool(dir, 'test'))),
    maxBacklogBytes: o.maxBacklog,
    onSpoolError: (err) => void errors.push(err),
  });
  return { dir, screen, flow, errors, feeder, spool: () => spool };
}

describe('screen feeder', () => {
  it('lets a flood pass a small ring without pausing the agent; the spool keeps what the parser has not reached, and the model ends up exact', async () => {
    const t = setup({ ring: 64 * 1024, maxBacklog: 64 * 1024 * 1024 });
    const chunks: Buffer[] = [];
    let maxSpooled = 0;
    for (let i = 0; i < 1500; i++) {
      const c = lines(i * 50, 50);
      chunks.push(c);
      t.feeder.append(c); // all in one turn of the event loop: the parser cannot run meanwhile
      maxSpooled = Math.max(maxSpooled, t.feeder.spooled);
    }
    expect(t.flow).toEqual([]);
    expect(maxSpooled).toBeGreaterThan(1024 * 1024);
    // The spool file was unlinked at once: nothing is ever left behind.
    expect(readdirSync(t.dir)).toEqual([]);
    await t.feeder.catchUp();
    expect(t.feeder.backlog).toBe(0);
    expect(t.feeder.spooled).toBe(0);
    const ref = await reference(chunks);
    expect(t.screen.snapshot().ansi).toBe(ref.snapshot().ansi);
    expect(t.screen.offset).toBe(ref.offset);
    t.feeder.close();
  });

  it('applies a resize at the offset it happened at, however far the parser lags', async () => {
    const t = setup({ ring: 64 * 1024, maxBacklog: 64 * 1024 * 1024 });
    const a = Buffer.from('a'.repeat(100) + '\r\n');
    const b = Buffer.from('b'.repeat(100) + '\r\n');
    t.feeder.append(lines(0, 3000)); // far more than the ring: the resize lands while the parser lags
    t.feeder.append(a);
    t.feeder.resize(60, 12);
    t.feeder.append(b);
    t.feeder.resize(30, 8);
    t.feeder.append(a);
    await t.feeder.catchUp();
    const ref = await reference([lines(0, 3000), a, { cols: 60, rows: 12 }, b, { cols: 30, rows: 8 }, a]);
    expect([t.screen.cols, t.screen.rows]).toEqual([30, 8]);
    expect(t.screen.snapshot().ansi).toBe(ref.snapshot().ansi);
    t.feeder.close();
  });

  it('without a spool (it cannot be made) keeps the backlog in memory, pauses reading past its bound, and says so once', async () => {
    const t = setup({
      ring: 64 * 1024,
      maxBacklog: 64 * 1024 * 1024,
      spool: () => {
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      },
    });
    const chunks: Buffer[] = [];
    for (let i = 0; chunks.reduce((n, c) => n + c.length, 0) < MEMORY_BACKLOG_BYTES + 1024 * 1024; i++) {
      chunks.push(lines(i * 200, 200));
      t.feeder.append(chunks.at(-1)!);
    }
    expect(t.errors).toHaveLength(1);
    expect(t.flow).toEqual(['pause']);
    await t.feeder.catchUp();
    expect(t.flow).toEqual(['pause', 'resume']);
    const ref = await reference(chunks);
    expect(t.screen.snapshot().ansi).toBe(ref.snapshot().ansi);
    t.feeder.close();
  });

  it('pauses reading once the backlog passes its bound, and resumes when the parser is back under it', async () => {
    const t = setup({ ring: 64 * 1024, maxBacklog: 5 * 1024 * 1024 });
    for (let i = 0; t.feeder.backlog <= 5 * 1024 * 1024; i++) t.feeder.append(lines(i * 100, 100));
    expect(t.flow).toEqual(['pause']);
    await t.feeder.catchUp();
    expect(t.flow).toEqual(['pause', 'resume']);
    t.feeder.close();
  });

  it('catches up for a caller that needs the model current without pausing reading', async () => {
    const t = setup({ ring: 64 * 1024, maxBacklog: 64 * 1024 * 1024 });
    for (let i = 0; i < 50; i++) t.feeder.append(lines(i * 100, 100));
    const current = t.feeder.catchUp();
    t.feeder.append(lines(5000, 10)); // reading goes on meanwhile
    await current;
    expect(t.flow).toEqual([]);
    expect(t.screen.offset).toBeGreaterThanOrEqual(lines(0, 5000).length);
    t.feeder.close();
  });

  it('serves output the parser has not reached from the spool, then from the ring, without a gap', async () => {
    const t = setup({ ring: 64 * 1024, maxBacklog: 64 * 1024 * 1024 });
    const chunks: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      chunks.push(lines(i * 50, 50));
      t.feeder.append(chunks.at(-1)!); // one turn: the parser is still at 0, the ring far past it
    }
    const all = Buffer.concat(chunks);
    expect(t.feeder.holds(0)).toBe(true);
    const got: Buffer[] = [];
    for (let at = 0; at < all.length; ) {
      const piece = t.feeder.read(at, 10_000)!;
      expect(piece.length).toBeGreaterThan(0);
      got.push(piece);
      at += piece.length;
    }
    expect(Buffer.concat(got).equals(all)).toBe(true);
    // Once the parser read the spool it is let go: what the ring dropped is no longer held.
    await t.feeder.catchUp();
    expect(t.feeder.holds(0)).toBe(false);
    expect(t.feeder.read(0, 10)).toBeUndefined();
    expect(t.feeder.holds(all.length - 10)).toBe(true);
    t.feeder.close();
  });

  it('parses a quiet trickle by itself, without anyone asking', async () => {
    const t = setup({ ring: 64 * 1024, maxBacklog: 64 * 1024 * 1024 });
    t.feeder.append(Buffer.from('hello\r\n'));
    const deadline = Date.now() + 5_000;
    while (t.screen.offset < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(t.screen.text().split('\n')[0]).toBe('hello');
    t.feeder.close();
  });
});

describe('output spool', () => {
  it('holds one contiguous range, reads it back, and refuses a gap', () => {
    const spool = openOutputSpool(mkdtempSync(join(tmpdir(), 'hapi-spool-')), 'x');
    spool.append(100, Buffer.from('abcdef'));
    spool.append(106, [Buffer.from('g'), Buffer.from('h')]);
    expect([spool.start, spool.end]).toEqual([100, 108]);
    expect(spool.read(102, 4).toString()).toBe('cdef');
    expect(spool.read(106, 100).toString()).toBe('gh');
    expect(() => spool.append(200, Buffer.from('z'))).toThrow(RangeError);
    expect(() => spool.read(99, 1)).toThrow(RangeError);
    spool.clear();
    expect([spool.start, spool.end]).toEqual([108, 108]);
    spool.release();
    spool.append(500, Buffer.from('new'));
    expect(spool.read(500, 3).toString()).toBe('new');
    spool.close();
  });
});
