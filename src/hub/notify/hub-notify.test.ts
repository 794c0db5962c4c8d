import { describe, expect, it } from 'vitest';
import type { HubCore } from '../domain/hub-core.js';
import { attentionOf } from './hub-notify.js';

describe('attentionOf', () => {
  it('records a decision pressed in Telegram or a push notification with that origin, as the caller who pressed it', async () => {
    const calls: unknown[][] = [];
    const core = { decideApproval: async (...args: unknown[]) => void calls.push(args) } as unknown as HubCore;
    const { decide } = attentionOf(core);
    await decide!({ namespace: 'team', machineId: 'm1', sessionId: 's1', requestId: 'r1', allow: true, who: 'telegram:42', via: 'telegram' });
    await decide!({ namespace: 'team', machineId: 'm1', sessionId: 's1', requestId: 'r2', allow: false, who: 'tok_x', via: 'push' });
    expect(calls).toEqual([
      [{ namespace: 'team', owner: false, tokenId: 'telegram:42', scope: 'full' }, 'm1', 's1', { requestId: 'r1', decision: 'allow', message: '' }, 'telegram'],
      [{ namespace: 'team', owner: false, tokenId: 'tok_x', scope: 'full' }, 'm1', 's1', { requestId: 'r2', decision: 'deny', message: '' }, 'push'],
    ]);
  });
});
