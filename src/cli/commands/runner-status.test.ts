import { describe, expect, it } from 'vitest';
import { formatDuration, formatLocalTime } from './runner-status.js';

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
});
