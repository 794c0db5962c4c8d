import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { pollUntil, isGroupAlive } from './process-tree.js';

/** State letter of /proc/<pid>/stat ('Z' for a zombie), undefined when gone. */
function stateOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0];
  } catch {
    return undefined;
  }
}

describe('isGroupAlive', () => {
  it('is true while a process of the group lives, false once the group is gone', async () => {
    const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    await once(child, 'spawn');
    const pgid = child.pid!;
    try {
      expect(isGroupAlive(pgid)).toBe(true);
    } finally {
      process.kill(-pgid, 'SIGKILL');
    }
    await once(child, 'exit');
    expect(isGroupAlive(pgid)).toBe(false);
  });

  it.skipIf(process.platform !== 'linux')('a group whose only member is an unreaped zombie counts as gone', async () => {
    // A parent that never reaps: its child leads a group of its own and exits at once.
    const script = [
      'import os, sys, time',
      'pid = os.fork()',
      'if pid == 0:',
      '    os.setpgid(0, 0)',
      '    os._exit(0)',
      'try:',
      '    os.setpgid(pid, pid)',
      'except OSError:',
      '    pass',
      'print(pid, flush=True)',
      'time.sleep(30)',
    ].join('\n');
    const parent = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const [line] = (await once(createInterface({ input: parent.stdout! }), 'line')) as [string];
      const zombie = Number(line);
      expect(await pollUntil(() => stateOf(zombie) === 'Z', 5_000)).toBe(true);
      // kill(-pgid, 0) succeeds for the zombie; only the /proc scan tells it is not alive.
      expect(() => process.kill(-zombie, 0)).not.toThrow();
      expect(isGroupAlive(zombie)).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
