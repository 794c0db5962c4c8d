import { describe, expect, it } from 'vitest';
import { clockCheck } from './hub-checks.js';

describe('clock skew against the hub', () => {
  it('compares the hub\'s time with the middle of the call', () => {
    const before = 1_000_000;
    const after = before + 40;
    expect(clockCheck(new Date(before + 20), before, after)).toMatchObject({ status: 'ok', detail: expect.stringContaining('0.0 s') });
    expect(clockCheck(new Date(before + 20 + 8_000), before, after)).toMatchObject({ status: 'warn', detail: expect.stringContaining('8.0 s behind') });
    expect(clockCheck(new Date(before + 20 - 90_000), before, after)).toMatchObject({ status: 'fail', detail: expect.stringContaining('90.0 s ahead of'), fix: expect.stringContaining('timedatectl') });
    expect(clockCheck(undefined, before, after).status).toBe('skip');
  });
});
