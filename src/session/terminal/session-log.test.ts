import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSessionLog } from './session-log.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function logFile() {
  const dir = mkdtempSync(join(tmpdir(), 'hapi-log-'));
  const path = join(dir, 's.log');
  // As the runner opens it: for appending, 0600.
  const fd = openSync(path, 'a', 0o600);
  cleanups.push(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });
  return { path, fd };
}

describe('session log', () => {
  it('rotates at the cap, keeping one previous file: the disk holds at most twice the cap', () => {
    const { path, fd } = logFile();
    const log = createSessionLog({ fd, path, maxBytes: 1000 });
    const line = (n: number) => Buffer.from(`line ${String(n).padStart(4, '0')}\n`); // 10 bytes
    for (let n = 0; n < 995; n++) log.write(line(n));
    expect(log.rotations).toBe(9);
    expect(statSync(path).size).toBe(950);
    expect(statSync(`${path}.1`).size).toBe(1000);
    // The newest output is in the log, the output before it in .1, in order and without a gap.
    const all = readFileSync(`${path}.1`, 'utf8') + readFileSync(path, 'utf8');
    const numbers = [...all.matchAll(/line (\d{4})/g)].map((m) => Number(m[1]));
    expect(numbers.at(-1)).toBe(994);
    expect(numbers.every((n, i) => i === 0 || n === numbers[i - 1]! + 1)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('counts what the file held before (the session notes) against the cap', () => {
    const { path, fd } = logFile();
    writeSync(fd, 'x'.repeat(50));
    const log = createSessionLog({ fd, path, maxBytes: 100 });
    log.write(Buffer.from('y'.repeat(49)));
    expect([log.rotations, log.size]).toEqual([0, 99]);
    log.write(Buffer.from('z'));
    expect(log.rotations).toBe(1);
    expect(readFileSync(`${path}.1`, 'utf8')).toBe(`${'x'.repeat(50)}${'y'.repeat(49)}z`);
    log.write(Buffer.from('b'));
    expect(readFileSync(path, 'utf8')).toBe('b');
  });

  it('truncates a file that is not the named log (nothing to copy aside), and writes a pipe as a stream', () => {
    const { path, fd } = logFile();
    const log = createSessionLog({ fd, path: `${path}.other`, maxBytes: 10 });
    log.write(Buffer.from('0123456789abc'));
    expect(statSync(path).size).toBe(0);
    const streamed: string[] = [];
    const pipeLog = createSessionLog({ fd: 99_999, path, maxBytes: 10, writeOther: (d) => void streamed.push(Buffer.from(d).toString()) });
    pipeLog.write(Buffer.from('hi'));
    expect(streamed).toEqual(['hi']);
  });
});
