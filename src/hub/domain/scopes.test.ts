import { describe, expect, it } from 'vitest';
import { PermissionDeniedError } from '../../shared/errors.js';
import { allows, parseScope, requireScope, type HubAction } from './scopes.js';

const READS: HubAction[] = ['list', 'watch', 'runner-status', 'view'];
const WRITES: HubAction[] = ['spawn', 'stop-session', 'stop-runner', 'connect-runner', 'type'];

describe('token scopes', () => {
  it('full allows everything; read-only allows only the reads', async () => {
    for (const a of [...READS, ...WRITES]) expect(allows('full', a), a).toBe(true);
    for (const a of READS) expect(allows('read-only', a), a).toBe(true);
    for (const a of WRITES) expect(allows('read-only', a), a).toBe(false);
  });

  it('requireScope names what a read-only token cannot do', async () => {
    expect(() => requireScope({ scope: 'read-only' }, 'spawn')).toThrow(PermissionDeniedError);
    expect(() => requireScope({ scope: 'read-only' }, 'spawn')).toThrow('this token is read-only: it cannot start sessions');
    expect(() => requireScope({ scope: 'full' }, 'spawn')).not.toThrow();
  });

  it('parses the two scope names only', async () => {
    expect(parseScope('full')).toBe('full');
    expect(parseScope('read-only')).toBe('read-only');
    expect(parseScope('readonly')).toBeUndefined();
  });
});
