import { describe, expect, it } from 'vitest';
import { decodeChanges, encodeChanges, MAX_PAYLOAD_BYTES, type Change } from './change-bus.js';

describe('change bus payloads', () => {
  it('round-trips ids of every kind, without duplicates', () => {
    const changes: Change[] = [
      { kind: 'machine', machineId: 'm1' },
      { kind: 'session', machineId: 'm1', sessionId: 's1' },
      { kind: 'machine', machineId: 'm1' },
      { kind: 'token', tokenId: 'tok_1' },
    ];
    const payloads = encodeChanges('r1', changes);
    expect(payloads).toHaveLength(1);
    expect(decodeChanges(payloads[0]!)).toEqual({
      replicaId: 'r1',
      changes: [{ kind: 'machine', machineId: 'm1' }, { kind: 'session', machineId: 'm1', sessionId: 's1' }, { kind: 'token', tokenId: 'tok_1' }],
    });
  });

  it('splits many ids into payloads PostgreSQL accepts (< 8000 bytes), losing none', () => {
    const changes: Change[] = [];
    for (let i = 0; i < 3_000; i++) changes.push({ kind: 'session', machineId: `machine-é-${i}`.padEnd(60, 'x'), sessionId: `session-${i}` });
    const payloads = encodeChanges('replica', changes);
    expect(payloads.length).toBeGreaterThan(10);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThan(MAX_PAYLOAD_BYTES);
    const back = payloads.flatMap((p) => decodeChanges(p)!.changes);
    expect(back).toEqual(changes);
  });

  it('sends nothing for nothing, and drops malformed payloads', () => {
    expect(encodeChanges('r', [])).toEqual([]);
    expect(decodeChanges('not json')).toBeUndefined();
    expect(decodeChanges('{"m":["x"]}')).toBeUndefined();
    expect(decodeChanges('{"r":"a","m":[1,"ok"],"s":[["only-one"]],"t":[{}]}')).toEqual({ replicaId: 'a', changes: [{ kind: 'machine', machineId: 'ok' }] });
  });
});
