import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createLogger, logWriteHealth } from './logger.js';

// /dev/full answers every write with ENOSPC: a full disk without mounting anything.
describe.skipIf(!existsSync('/dev/full'))('logger on a full disk', () => {
  it('drops and counts failed writes instead of throwing or emitting an error', () => {
    const log = createLogger({ name: 't', file: '/dev/full' });
    expect(logWriteHealth(log)).toEqual({ failing: false, droppedLines: 0 });
    expect(() => {
      log.info('one');
      log.child({ c: 'x' }).error({ err: new Error('boom') }, 'two');
      log.fatal('three (as from a crash handler)');
    }).not.toThrow();
    const h = logWriteHealth(log)!;
    expect(h).toMatchObject({ failing: true, lastError: 'ENOSPC', droppedLines: 3 });
    expect(h.lastFailureAt).toBeInstanceOf(Date);
  });
});

describe('one key once per line', () => {
  it('a child re-binding a key replaces it; a call repeating a bound key drops or renames it', async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { duplicateKeys } = await import('../../test/log-keys.js');
    const file = join(mkdtempSync(join(tmpdir(), 'hapi-log-')), 'x.log');
    const log = createLogger({ name: 't', file });
    const inner = log.child({ c: 'outer', machineId: 'm' }).child({ c: 'inner' });
    inner.info({ pid: process.pid, machineId: 'm' }, 'same values');
    inner.info({ pid: 1, machineId: 'other' }, 'other values');
    inner.child({ machineId: 'n' }).info('rebound');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines.flatMap(duplicateKeys)).toEqual([]);
    const [same, other, rebound] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(same).toMatchObject({ pid: process.pid, c: 'inner', machineId: 'm', msg: 'same values' });
    expect(Object.keys(same!).filter((k) => k.startsWith('dup_'))).toEqual([]);
    expect(other).toMatchObject({ pid: process.pid, machineId: 'm', dup_pid: 1, dup_machineId: 'other' });
    expect(rebound).toMatchObject({ c: 'inner', machineId: 'n' });
  });
});
