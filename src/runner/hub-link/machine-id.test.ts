import { describe, expect, it } from 'vitest';
import { installFingerprint } from './machine-id.js';

describe('install fingerprint', () => {
  it('is stable for one HAPI_HOME and differs for a copy at another path', () => {
    expect(installFingerprint('/home/u/.hapi')).toBe(installFingerprint('/home/u/.hapi/'));
    expect(installFingerprint('/home/u/.hapi')).not.toBe(installFingerprint('/home/u/.hapi-copy'));
    expect(installFingerprint('/x')).toMatch(/^[0-9a-f]{64}$/);
  });
});
