import { describe, expect, it } from 'vitest';
import { formatUsLocaleTime } from './local-time.js';

describe('formatUsLocaleTime', () => {
  it("writes exactly what toLocaleString('en-US') writes", () => {
    const dates = [new Date(2026, 0, 5, 0, 3, 4), new Date(2025, 7, 24, 18, 46, 22), new Date(2026, 10, 23, 12, 0, 0), new Date(2024, 1, 29, 11, 59, 59)];
    // Every hour of a day, and a spread of days over several years.
    for (let h = 0; h < 24; h++) dates.push(new Date(2026, 2, 1, h, h * 2, 59 - h));
    for (let i = 0; i < 200; i++) dates.push(new Date(1_600_000_000_000 + i * 7_777_777_777));
    // Normalised: some ICU versions put a narrow no-break space before AM/PM.
    for (const d of dates) expect(formatUsLocaleTime(d)).toBe(d.toLocaleString('en-US').replace(/\u202f/g, ' '));
  });
});
