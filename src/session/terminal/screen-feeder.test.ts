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

describe('screen feeder: plain lines skipped', () => {
  /** A small PRNG, so a failing seed can be replayed. */
  function random(seed: number): () => number {
    let x = seed >>> 0 || 1;
    return () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
  }

  /**
   * Output an agent might write: mostly plain lines (colours, UTF-8, wide characters, tabs, long
   * lines that wrap, progress bars with lone CRs), now and then what a TUI does (cursor moves,
   * erases, a scroll region, the alternate screen, a title, insert mode, saved cursors).
   */
  function output(rand: () => number, bytes: number): Buffer {
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    const texts = ['ok', 'naïve café', '日本語のテキスト', '🎉 done', 'x'.repeat(97), 'a\tb\tc', 'progress 10%\rprogress 99%'];
    const sgr = ['\x1b[0m', '\x1b[m', '\x1b[1;31m', '\x1b[38;5;208m', '\x1b[48;2;10;20;30m', '\x1b[4:3m', '\x1b[7m', '\x1b[27m'];
    const tui = ['\x1b[5A', '\x1b[2K', '\x1b[3;8r', '\x1b[r', '\x1b[?1049h', '\x1b[?1049l', '\x1b]0;title\x07', '\x1b[4h', '\x1b[4l', '\x1b7', '\x1b8', '\x1b[10;3H', '\x1b[2J', '\x1b[S', '\x1bM', '\x07', '\x1b(0', '\x1b(B', '\x1b[?7l', '\x1b[?7h', '\x1b[20h', '\x1b[20l', '\x1b[?6h', '\x1b[?6l', '\x1b[H', '\x1b[H\x1b[2J'];
    const out: string[] = [];
    let length = 0;
    for (let line = 0; length < bytes; line++) {
      // Now and then a TUI moment, then a burst of plain lines long enough to be skipped.
      const piece = rand() < 0.0004 ? pick(tui) : `${rand() < 0.3 ? pick(sgr) : ''}${line} ${pick(texts)}${rand() < 0.1 ? pick(sgr) : ''}${rand() < 0.02 ? '\n' : '\r\n'}`;
      out.push(piece);
      length += Buffer.byteLength(piece);
    }
    return Buffer.from(out.join(''));
  }

  it('leaves the model exactly as a full parse does, whatever the output, its chunks and the resizes (a seeded fuzz)', async () => {
    let skippedAll = 0;
    for (let seed = 1; seed <= 8; seed++) {
      const rand = random(seed);
      const t = setup({ ring: 64 * 1024, maxBacklog: 64 * 1024 * 1024 });
      const all = output(rand, 1024 * 1024);
      const steps: (Buffer | { cols: number; rows: number })[] = [];
      for (let at = 0; at < all.length; ) {
        // Chunks cut anywhere: inside characters and escape sequences too.
        const n = 1 + Math.floor(rand() * 20_000);
        const chunk = all.subarray(at, at + n);
        at += n;
        t.feeder.append(chunk);
        steps.push(chunk);
        if (rand() < 0.01) {
          const size = { cols: 20 + Math.floor(rand() * 60), rows: 5 + Math.floor(rand() * 20) };
          t.feeder.resize(size.cols, size.rows);
          steps.push(size);
        }
        // Now and then the parser gets to run between chunks (as between PTY reads).
        if (rand() < 0.2) await new Promise((r) => setTimeout(r, rand() < 0.5 ? 0 : 25));
      }
      await t.feeder.catchUp();
      const ref = await reference(steps);
      const [got, want] = [t.screen.snapshot(), ref.snapshot()];
      expect(got.ansi, `seed ${seed}`).toBe(want.ansi);
      expect(got.cursor, `seed ${seed}`).toEqual(want.cursor);
      expect(t.screen.text(), `seed ${seed}`).toBe(ref.text());
      expect(t.errors, `seed ${seed}`).toEqual([]);
      expect(t.screen.offset, `seed ${seed}`).toBe(all.length);
      expect(t.errors, `seed ${seed}`).toEqual([]);
      skippedAll += t.feeder.skipped;
      t.feeder.close();
    }
    // The fuzz exercised skipping (else it proves nothing).
    expect(skippedAll).toBeGreaterThan(1024 * 1024);
  });

  it('passes over most of a flood of plain lines: no spool, little parsing, the model exact', async () => {
    const t = setup({ ring: 1024 * 1024, maxBacklog: 64 * 1024 * 1024 });
    let parsed = 0;
    const write = t.screen.write.bind(t.screen);
    t.screen.write = (data, done, covers) => {
      parsed += data.length;
      write(data, done, covers);
    };
    const chunks: Buffer[] = [];
    let maxSpooled = 0;
    for (let i = 0; i < 400; i++) {
      chunks.push(lines(i * 500, 500)); // 20 MB in all
      t.feeder.append(chunks.at(-1)!);
      maxSpooled = Math.max(maxSpooled, t.feeder.spooled);
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    await t.feeder.catchUp();
    const total = chunks.reduce((n, c) => n + c.length, 0);
    expect(t.feeder.skipped / total).toBeGreaterThan(0.8);
    expect(maxSpooled).toBe(0);
    // Parsed: about one skip's kept lines (scrollback + 2 x rows), not one per ring of output.
    expect(parsed).toBeLessThan(3 * lines(0, t.screen.keepLines).length);
    const ref = await reference(chunks);
    expect(t.screen.snapshot().ansi).toBe(ref.snapshot().ansi);
    t.feeder.close();
  });

  it('keeps enough lines when a run starts at the top of the screen, inside a scroll region, or after wide lines', async () => {
    for (const start of ['\x1b[H\x1b[2J', '\x1b[H', '\x1b[2;9r\x1b[3;1H', '\x1b[5A', `${'w'.repeat(COLS * 3)}\r\n`]) {
      const t = setup({ ring: 64 * 1024, maxBacklog: 64 * 1024 * 1024 });
      const chunks = [lines(0, 700), Buffer.from(start), lines(700, 3000), Buffer.from('end')];
      // The model parsed up to the run's start: the run is skipped from there.
      t.feeder.append(chunks[0]!);
      t.feeder.append(chunks[1]!);
      await t.feeder.catchUp();
      t.feeder.append(chunks[2]!);
      t.feeder.append(chunks[3]!);
      await t.feeder.catchUp();
      expect(t.feeder.skipped, JSON.stringify(start)).toBeGreaterThan(0);
      const ref = await reference(chunks);
      expect(t.screen.snapshot().ansi, JSON.stringify(start)).toBe(ref.snapshot().ansi);
      expect(t.screen.snapshot().cursor, JSON.stringify(start)).toEqual(ref.snapshot().cursor);
      t.feeder.close();
    }
  });

  it('does not skip where the parser is not at rest (inside an OSC string that spans plain-looking lines)', async () => {
    const t = setup({ ring: 64 * 1024, maxBacklog: 64 * 1024 * 1024 });
    // An OSC opened and never closed by BEL or ST until after thousands of lines: all of it is
    // the OSC's string, not text; a skip would print it.
    const chunks = [Buffer.from('before\r\n\x1b]2;'), lines(0, 3000), Buffer.from('\x07after\r\n')];
    for (const c of chunks) t.feeder.append(c);
    await t.feeder.catchUp();
    const ref = await reference(chunks);
    expect(t.screen.snapshot().ansi).toBe(ref.snapshot().ansi);
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
