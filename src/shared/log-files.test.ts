import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { logFiles, newestLog, newLogPath, pruneLogs } from './log-files.js';

describe('daemon log files', () => {
  it('a second start in the same second sorts after the first; programs stay apart; pruning keeps the newest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapi-logs-'));
    try {
      const t = new Date(2026, 11, 2, 3, 4, 5);
      const first = newLogPath('runner', dir, t, 11);
      writeFileSync(first, '');
      const second = newLogPath('runner', dir, t, 22);
      writeFileSync(second, '');
      expect(second).toBe(join(dir, 'runner-20261202-030405-22.log'));
      writeFileSync(newLogPath('runner', dir, new Date(2026, 11, 1)), '');
      writeFileSync(newLogPath('hub', dir, t), '');
      expect(logFiles('runner', dir)).toEqual(['runner-20261201-000000.log', 'runner-20261202-030405.log', 'runner-20261202-030405-22.log']);
      expect(newestLog('runner', dir)).toBe(second);
      expect(newestLog('hub', dir)).toBe(join(dir, 'hub-20261202-030405.log'));
      expect(pruneLogs('runner', dir, 1)).toBe(2);
      expect(logFiles('runner', dir)).toEqual(['runner-20261202-030405-22.log']);
      expect(logFiles('hub', dir)).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
