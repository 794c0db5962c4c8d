import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../shared/errors.js';
import type { SpawnSpec } from './types.js';
import { checkSpawnSpec } from './limits.js';

describe('checkSpawnSpec', () => {
  it('accepts a directory, with or without a session id and agent args', () => {
    const spec = (s: Partial<SpawnSpec>): SpawnSpec => ({ approveCreateDirectory: false, agentArgs: [], directory: '/tmp', ...s });
    expect(() => checkSpawnSpec(spec({}))).not.toThrow();
    expect(() => checkSpawnSpec(spec({ directory: 'proj', sessionId: '' }))).not.toThrow();
    expect(() => checkSpawnSpec(spec({ directory: '~', sessionId: 'abc-1.x_y', agentArgs: ['--model', 'x y'] }))).not.toThrow();
  });

  it('refuses a missing directory, a bad session id and agent args that are not NUL-free strings', () => {
    const bad: unknown[] = [
      { directory: '' },
      { directory: '   ' },
      { directory: 42 },
      { directory: '/tmp', sessionId: '../x' },
      { directory: '/tmp', agentArgs: 'not-a-list' },
      { directory: '/tmp', agentArgs: ['ok', 3] },
      { directory: '/tmp', agentArgs: ['a\0b'] },
    ];
    for (const spec of bad) expect(() => checkSpawnSpec(spec as SpawnSpec), JSON.stringify(spec)).toThrow(InvalidArgumentError);
  });
});
