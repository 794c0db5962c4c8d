import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSessionActivityWatch, lastLineOf } from './session-activity.js';

describe('session activity', () => {
  it('takes the last non-blank line of the screen, trimmed and bounded', () => {
    expect(lastLineOf('title\n> waiting for input   \n\n   \n')).toBe('> waiting for input');
    expect(lastLineOf('\n \n')).toBe('');
    expect(lastLineOf('x'.repeat(500))).toHaveLength(200);
  });

  it('reports a session again only when its output moved, and every session when fresh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapi-activity-'));
    for (const id of ['a', 'b', 'gone']) writeFileSync(join(dir, id), '');
    const offsets: Record<string, number> = { a: 10, b: 5 };
    let screens = 0;
    const watch = createSessionActivityWatch({
      ids: () => ['a', 'b', 'no-socket'],
      socketFor: (id) => join(dir, id),
      getInfo: async (socket) => ({ outputOffset: offsets[socket.split('/').pop()!]!, lastOutputAt: new Date(1000) }),
      getScreen: async (socket) => {
        screens += 1;
        return { text: `screen of ${socket.split('/').pop()}\n` };
      },
    });
    expect(await watch.poll(false)).toEqual([
      { sessionId: 'a', lastOutputAt: new Date(1000), lastLine: 'screen of a' },
      { sessionId: 'b', lastOutputAt: new Date(1000), lastLine: 'screen of b' },
    ]);
    expect(await watch.poll(false)).toEqual([]);
    offsets.b = 7;
    expect((await watch.poll(false)).map((e) => e.sessionId)).toEqual(['b']);
    expect(screens).toBe(3);
    expect((await watch.poll(true)).map((e) => e.sessionId)).toEqual(['a', 'b']);
  });
});
