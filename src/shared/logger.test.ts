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
