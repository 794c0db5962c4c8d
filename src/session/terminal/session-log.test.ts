import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildSync } from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { BATCH_BYTES, BATCH_MS, createSessionLog } from './session-log.js';

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

describe('session log, batching', () => {
  it('gathers reads into one write BATCH_MS later, or at once when a batch is full, in order, off the thread', async () => {
    const { path, fd } = logFile();
    const log = createSessionLog({ fd, path, maxBytes: 10 * BATCH_BYTES, batch: true });
    log.write(Buffer.from('one '));
    log.write(Buffer.from('two '));
    await new Promise((r) => setImmediate(r));
    log.write(Buffer.from('three '));
    // Held across turns of the event loop: a flood's reads come one per turn.
    expect(statSync(path).size).toBe(0);
    expect(log.queued).toBe(14);
    await new Promise((r) => setTimeout(r, BATCH_MS + 20));
    await log.drained!();
    expect(readFileSync(path, 'utf8')).toBe('one two three ');
    const big = Buffer.alloc(BATCH_BYTES - 2, 'x');
    log.write(big);
    log.write(Buffer.from('yz!')); // does not fit: the batch is queued, this one is held
    expect(log.queued).toBe(big.length + 3);
    await log.drained!();
    expect(readFileSync(path, 'utf8')).toBe(`one two three ${big.toString()}yz!`);
    expect(log.queued).toBe(0);
  });

  it('rotates between two writes, keeping the order across the rotation, and flush writes at once', async () => {
    const { path, fd } = logFile();
    const log = createSessionLog({ fd, path, maxBytes: 1000, batch: true });
    const line = (n: number) => Buffer.from(`line ${String(n).padStart(4, '0')}\n`); // 10 bytes
    for (let n = 0; n < 995; n++) {
      log.write(line(n));
      if (n % 37 === 0) await new Promise((r) => setTimeout(r, BATCH_MS + 2));
    }
    await log.drained!();
    expect(log.rotations).toBeGreaterThanOrEqual(4);
    const all = readFileSync(`${path}.1`, 'utf8') + readFileSync(path, 'utf8');
    const numbers = [...all.matchAll(/line (\d{4})/g)].map((m) => Number(m[1]));
    expect(numbers.at(-1)).toBe(994);
    expect(numbers.every((n, i) => i === 0 || n === numbers[i - 1]! + 1)).toBe(true);
    expect(statSync(`${path}.1`).size).toBeLessThan(1000 + BATCH_BYTES);
    log.write(Buffer.from('sync'));
    log.flush();
    expect(readFileSync(path, 'utf8').endsWith('sync')).toBe(true);
  });

  it('asks for reading to pause while too much waits for the disk, and to resume once half is written', async () => {
    const { path, fd } = logFile();
    const pressure: boolean[] = [];
    const log = createSessionLog({ fd, path, maxBytes: 1e9, batch: true, maxQueuedBytes: 4 * BATCH_BYTES, onPressure: (full) => pressure.push(full) });
    // Full batches queue at once; the first write is on the pool, the rest wait behind it.
    for (let i = 0; i < 6; i++) log.write(Buffer.alloc(BATCH_BYTES, 'a'));
    expect(pressure).toEqual([true]);
    await log.drained!();
    expect(pressure).toEqual([true, false]);
    expect(statSync(path).size).toBe(6 * BATCH_BYTES);
  });

  it('writes what it holds when the process exits', () => {
    const { path } = logFile();
    // The module as a child process runs it: compiled to CommonJS next to the log.
    const compiled = join(dirname(path), 'session-log.cjs');
    buildSync({ entryPoints: [join(import.meta.dirname, 'session-log.ts')], outfile: compiled, format: 'cjs', platform: 'node', logLevel: 'error' });
    const script = `
      const { openSync } = require('node:fs');
      const { createSessionLog } = require(${JSON.stringify(compiled)});
      const log = createSessionLog({ fd: openSync(${JSON.stringify(path)}, 'a'), path: ${JSON.stringify(path)}, maxBytes: 1e6, batch: true });
      log.write(Buffer.from('last words'));
      process.exit(3);`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(3);
    expect(readFileSync(path, 'utf8')).toBe('last words');
  });
});
