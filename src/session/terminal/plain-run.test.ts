import { describe, expect, it } from 'vitest';
import { createPlainRun } from './plain-run.js';

const bytes = (s: string) => Buffer.from(s, 'utf8');
/** `count` numbered CR LF lines. */
const lines = (count: number, from = 0) => Array.from({ length: count }, (_, i) => `line ${from + i}\r\n`).join('');

describe('plain run', () => {
  it('cuts so that exactly keepLines whole lines are left to parse, and only when it skips at least as much', () => {
    const run = createPlainRun(0, 3);
    const text = lines(10);
    run.scan(bytes(text));
    expect(run.open).toBe(true);
    expect(run.end).toBe(text.length);
    const cut = run.cut(0)!;
    expect(text.slice(cut.skipTo, cut.to)).toBe(lines(3, 7));
    expect(cut.to).toBe(text.length);
    expect(cut.residue.length).toBe(0);
    // From line 6 on, skipping line 6 alone would save less than parsing the three kept.
    expect(run.cut(text.indexOf('line 6'))).toBeUndefined();
    // Not enough lines yet.
    const short = createPlainRun(0, 3);
    short.scan(bytes(lines(3)));
    expect(short.cut(0)).toBeUndefined();
  });

  it('keeps the right lines when it holds more than it started with (its list of line ends grows)', () => {
    const run = createPlainRun(0, 500);
    const text = lines(3000);
    for (let i = 0; i < text.length; i += 997) run.scan(bytes(text.slice(i, i + 997)));
    const cut = run.cut(0)!;
    expect(text.slice(cut.skipTo, cut.to)).toBe(lines(500, 2500));
  });

  it('counts lines across chunk boundaries, CR LF split between chunks included', () => {
    const run = createPlainRun(100, 2);
    const text = lines(8);
    for (let i = 0; i < text.length; i += 3) run.scan(bytes(text.slice(i, i + 3)));
    const cut = run.cut(100)!;
    expect(text.slice(cut.skipTo - 100, cut.to - 100)).toBe(lines(2, 6));
  });

  it('replays the SGR sequences of the skipped part from the last full reset on', () => {
    const run = createPlainRun(0, 2);
    const text = `\x1b[1mbold\r\n\x1b[0m\x1b[31mred\r\n\x1b[4;38;5;99munder\r\n${lines(2)}\x1b[32mkept\r\n`;
    run.scan(bytes(text));
    const cut = run.cut(0)!;
    expect(text.slice(cut.skipTo, cut.to)).toBe(`line 1\r\n\x1b[32mkept\r\n`);
    expect(cut.residue.toString()).toBe('\x1b[0m\x1b[31m\x1b[4;38;5;99m');
  });

  it('ends at anything but plain lines: other escape sequences, controls, C1 and invalid UTF-8', () => {
    for (const [stop, what] of [
      ['\x1b[2J', 'an erase'],
      ['\x1b[5A', 'a cursor move'],
      ['\x1b]0;title\x07', 'an OSC'],
      ['\x1b[>4;2m', 'a private SGR-like sequence'],
      ['\x07', 'BEL'],
      ['\x08', 'backspace'],
      ['\x7f', 'DEL'],
      ['\xc2\x9b', 'a C1 CSI in UTF-8'],
    ] as const) {
      const run = createPlainRun(0, 1);
      const before = `${lines(5)}abc`;
      run.scan(Buffer.concat([bytes(before), Buffer.from(stop, 'latin1'), bytes(lines(5))]));
      expect(run.open, what).toBe(false);
      // It ends within what stopped it.
      expect(run.end, what).toBeGreaterThanOrEqual(before.length);
      expect(run.end, what).toBeLessThan(before.length + stop.length);
      // Cuts end at the last line end before it.
      expect(run.cut(0)!.to, what).toBe(lines(5).length);
    }
    const invalid = createPlainRun(0, 1);
    invalid.scan(Buffer.from([0x61, 0xc0, 0xaf]));
    expect(invalid.open).toBe(false);
    const overlong = createPlainRun(0, 1);
    overlong.scan(Buffer.from([0xe0, 0x82, 0x9b]));
    expect(overlong.open).toBe(false);
  });

  it('takes printable UTF-8, tabs and lone CRs or LFs as text (only CR LF counts as a line end)', () => {
    const run = createPlainRun(0, 1);
    run.scan(bytes('naïve\tcafé 日本 🎉\rover\nnext\r\n'));
    expect(run.open).toBe(true);
    run.scan(bytes('x\r\n'));
    expect(run.cut(0)).toBeDefined();
    const split = createPlainRun(0, 1);
    const emoji = bytes('🎉');
    split.scan(emoji.subarray(0, 2));
    split.scan(emoji.subarray(2));
    expect(split.open).toBe(true);
  });

  it('ends a run whose SGR residue would grow past its bound (colours never reset)', () => {
    const run = createPlainRun(0, 10);
    let text = '';
    for (let i = 0; i < 40_000; i++) text += `\x1b[38;5;${i % 256}m${i}\r\n`;
    run.scan(bytes(text));
    expect(run.open).toBe(false);
    // A cut still holds what it needs: every sequence since the run's start.
    const cut = run.cut(0)!;
    expect(cut.residue.toString()).toBe(text.slice(0, cut.skipTo).match(/\x1b\[[0-9;]*m/g)!.join(''));
  });

  it('keeps only what a cut may need of colours that reset on every line', () => {
    const run = createPlainRun(0, 5);
    let text = '';
    for (let i = 0; i < 200_000; i++) text += `\x1b[32mok\x1b[0m ${i}\r\n`;
    run.scan(bytes(text));
    expect(run.open).toBe(true);
    const cut = run.cut(0)!;
    expect(cut.residue.toString()).toBe('\x1b[0m');
  });

  it('finds the same run four bytes at a time as byte by byte, at every alignment', () => {
    const special = [0x00, 0x07, 0x08, 0x0b, 0x1a, 0x1b, 0x1f, 0x7f, 0x80, 0x9b, 0xc2, 0xff];
    for (let seed = 1; seed <= 300; seed++) {
      const text = Buffer.from(lines(40) + '\x1b[1;32mgreen\x1b[0m\r\n' + lines(40, 40));
      const at = 30 + (seed * 7919) % (text.length - 40);
      const broken = Buffer.concat([text.subarray(0, at), Buffer.from([special[seed % special.length]!]), text.subarray(at)]);
      for (const shift of [0, 1, 2, 3]) {
        // A view starting `shift` bytes into its memory: the words start at another offset.
        const data = Buffer.concat([Buffer.alloc(shift), broken]).subarray(shift);
        const whole = createPlainRun(0, 5);
        whole.scan(data);
        const bytewise = createPlainRun(0, 5);
        for (let i = 0; i < data.length; i++) bytewise.scan(data.subarray(i, i + 1));
        expect([whole.open, whole.end], `seed ${seed} shift ${shift}`).toEqual([bytewise.open, bytewise.end]);
        expect(whole.cut(0), `seed ${seed} shift ${shift}`).toEqual(bytewise.cut(0));
      }
    }
  });
});
