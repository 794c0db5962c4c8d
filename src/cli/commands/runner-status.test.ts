import { describe, expect, it } from 'vitest';
import { formatDuration, formatLocalTime, logWritesNote } from './runner-status.js';

describe('runner status formatting', () => {
  it('formats durations from seconds up to days', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(-5)).toBe('0s');
    expect(formatDuration(59_999)).toBe('59s');
    expect(formatDuration(61_000)).toBe('1m 1s');
    expect(formatDuration(3_600_000)).toBe('1h 0m 0s');
    expect(formatDuration(90_061_000)).toBe('1d 1h 1m 1s');
  });

  it('formats local times as YYYY-MM-DD HH:MM:SS, zero-padded', () => {
    expect(formatLocalTime(new Date(2026, 0, 5, 7, 8, 9))).toBe('2026-01-05 07:08:09');
    expect(formatLocalTime(new Date(2026, 10, 23, 21, 23, 26))).toBe('2026-11-23 21:23:26');
  });

  it('notes failing or failed log writes after the log path, nothing when all succeeded', () => {
    expect(logWritesNote(undefined)).toBe('');
    expect(logWritesNote({ failing: false, lastError: '', droppedLines: 0 })).toBe('');
    expect(logWritesNote({ failing: true, lastError: 'ENOSPC', droppedLines: 3 })).toBe(' (log writes failing: ENOSPC; 3 lines dropped)');
    expect(logWritesNote({ failing: false, lastError: 'ENOSPC', droppedLines: 1, lastFailureAt: new Date(2026, 0, 5, 7, 8, 9) })).toBe(
      ' (1 line dropped; last failure ENOSPC at 2026-01-05 07:08:09)',
    );
  });
});
