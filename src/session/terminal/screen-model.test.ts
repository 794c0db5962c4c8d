import { describe, expect, it } from 'vitest';
import { createScreenModel } from './screen-model.js';

const b = (s: string) => Buffer.from(s);

describe('screen model', () => {
  it('tracks the parsed offset, the text and the cursor', async () => {
    const m = createScreenModel({ cols: 20, rows: 4, scrollback: 100 });
    m.write(b('hello\r\n\x1b[31mred\x1b[0m'));
    await m.flush();
    expect(m.offset).toBe(Buffer.byteLength('hello\r\n\x1b[31mred\x1b[0m'));
    expect(m.text().split('\n').slice(0, 2)).toEqual(['hello', 'red']);
    const s = m.snapshot();
    expect(s.cursor).toEqual({ x: 3, y: 1 });
    expect([s.cols, s.rows, s.offset]).toEqual([20, 4, m.offset]);
    expect(s.ansi).toContain('\x1b[31m');
    m.dispose();
  });

  it('replays into a fresh terminal as the same screen, alternate screen included', async () => {
    const m = createScreenModel({ cols: 30, rows: 5, scrollback: 100 });
    m.write(b('before\r\n\x1b[?1049h\x1b[2J\x1b[Hfull screen app\x1b[3;5Hx'));
    await m.flush();
    const copy = createScreenModel({ cols: 30, rows: 5, scrollback: 100 });
    copy.write(b(m.snapshot().ansi));
    await copy.flush();
    expect(copy.text()).toBe(m.text());
    expect(copy.snapshot().cursor).toEqual(m.snapshot().cursor);
    m.dispose();
    copy.dispose();
  });

  it('prints the visible screen without modes or a switch to the alternate screen', async () => {
    const m = createScreenModel({ cols: 30, rows: 5, scrollback: 100 });
    m.write(b('shell line\r\n\x1b[?2004h\x1b[?1000h'));
    await m.flush();
    let visible = m.snapshot({ visibleOnly: true }).ansi;
    expect(visible).toContain('shell line');
    expect(visible).not.toMatch(/\x1b\[\?\d+[hl]/);
    m.write(b('\x1b[?1049h\x1b[2J\x1b[H\x1b[32mfull screen app\x1b[0m'));
    await m.flush();
    visible = m.snapshot({ visibleOnly: true }).ansi;
    expect(visible).toContain('full screen app');
    expect(visible).toContain('\x1b[32m');
    expect(visible).not.toContain('shell line');
    expect(visible).not.toMatch(/\x1b\[\?\d+[hl]/);
    // The full snapshot still restores modes and the alternate screen.
    expect(m.snapshot().ansi).toContain('\x1b[?1049h');
    expect(m.snapshot().ansi).toContain('\x1b[?2004h');
    m.dispose();
  });

  it('reports bracketed paste mode and follows resizes', async () => {
    const m = createScreenModel({ cols: 10, rows: 3, scrollback: 10 });
    expect(m.bracketedPaste).toBe(false);
    m.write(b('\x1b[?2004h'));
    await m.flush();
    expect(m.bracketedPaste).toBe(true);
    m.resize(40, 12);
    expect([m.cols, m.rows]).toEqual([40, 12]);
    expect(m.text().split('\n')).toHaveLength(12);
    m.dispose();
  });

  it('bounds the scrollback', async () => {
    const m = createScreenModel({ cols: 10, rows: 2, scrollback: 5 });
    for (let i = 0; i < 50; i++) m.write(b(`line${i}\r\n`));
    await m.flush();
    expect(m.snapshot().ansi).not.toContain('line40');
    expect(m.snapshot().ansi).toContain('line49');
    m.dispose();
  });
});
