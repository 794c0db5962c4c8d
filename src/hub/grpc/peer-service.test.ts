import { describe, expect, it } from 'vitest';
import { secretMatches } from './peer-service.js';

const SECRET = '0123456789abcdef0123';

describe('peer service authentication', () => {
  it('the cluster secret matches only itself, whatever the length given', () => {
    expect(secretMatches(SECRET, SECRET)).toBe(true);
    for (const given of [undefined, '', `${SECRET}x`, SECRET.slice(1), `Bearer ${SECRET}`]) expect(secretMatches(SECRET, given)).toBe(false);
  });
});
