import { describe, expect, it } from 'vitest';
import { createTerminalModes } from './terminal-modes.js';

const feed = (...chunks: string[]) => {
  const modes = createTerminalModes();
  for (const c of chunks) modes.observe(Buffer.from(c, 'utf8'));
  return modes;
};

describe('terminal modes to restore', () => {
  it('nothing switched: nothing to restore', () => {
    expect(feed('hello \x1b[1;32mworld\x1b[0m\r\n').restoreSequence()).toBe('');
    expect(feed('\x1b[?2004h', 'x\x1b[?2004l').restoreSequence()).toBe('');
  });

  it('switches back what the application left on, the alternate screen last', () => {
    const seq = feed('\x1b[?1049h\x1b[?1000;1006h\x1b[?2004h\x1b[?25l\x1b[2;20r\x1b=').restoreSequence();
    expect(seq).toBe('\x1b[0m\x1b[?1000l\x1b[?1006l\x1b[?2004l\x1b[?25h\x1b>\x1b[r\x1b[?1049l');
  });

  it('reads sequences split across chunks, and pops kitty keyboard flags', () => {
    const seq = feed('text\x1b[?10', '49h more \x1b', '[>1u').restoreSequence();
    expect(seq).toBe('\x1b[0m\x1b[<1u\x1b[?1049l');
    expect(feed('\x1b[>1u\x1b[>3u\x1b[<u').restoreSequence()).toBe('\x1b[0m\x1b[<1u');
  });

  it('ignores modes it does not track, and forgets after a reset', () => {
    expect(feed('\x1b[?12345h').restoreSequence()).toBe('');
    const modes = feed('\x1b[?1049h');
    modes.reset();
    expect(modes.restoreSequence()).toBe('');
  });
});
