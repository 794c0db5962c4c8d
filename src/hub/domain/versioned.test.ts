import { describe, expect, it } from 'vitest';
import { hello } from './test-support.js';
import type { MachineRecord } from './types.js';
import { applyReported, applyVersionedUpdate } from './versioned.js';

function machine(): MachineRecord {
  const h = hello('m1');
  return { id: 'm1', namespace: 'default', metadata: h.metadata, metadataVersion: 3, runnerState: h.runnerState, runnerStateVersion: 7, online: true };
}

describe('versioned updates', () => {
  it('applies an update made from the current version and moves the version by one', async () => {
    const m = machine();
    const metadata = { ...m.metadata, displayName: 'new' };
    expect(applyVersionedUpdate(m, 'metadata', 3, metadata)).toEqual({ applied: true, version: 4 });
    expect(m).toMatchObject({ metadata, metadataVersion: 4, runnerStateVersion: 7 });
    const state = { ...m.runnerState, lastSpawnError: 'x' };
    expect(applyVersionedUpdate(m, 'runner-state', 7, state)).toEqual({ applied: true, version: 8 });
    expect(m).toMatchObject({ runnerState: state, runnerStateVersion: 8, metadataVersion: 4 });
  });

  it('answers a stale version with the current value and leaves the record alone', async () => {
    const m = machine();
    const before = structuredClone(m);
    expect(applyVersionedUpdate(m, 'metadata', 2, { ...m.metadata, displayName: 'stale' })).toEqual({
      applied: false,
      currentVersion: 3,
      current: before.metadata,
    });
    expect(applyVersionedUpdate(m, 'runner-state', 8, { ...m.runnerState, pid: 1 })).toEqual({
      applied: false,
      currentVersion: 7,
      current: before.runnerState,
    });
    expect(m).toEqual(before);
  });

  it('takes a reported value, moving the version only when it differs', async () => {
    const m = machine();
    expect(applyReported(m, 'metadata', structuredClone(m.metadata))).toBe(false);
    expect(m.metadataVersion).toBe(3);
    expect(applyReported(m, 'runner-state', { ...m.runnerState, pid: 43 })).toBe(true);
    expect(m).toMatchObject({ runnerStateVersion: 8, metadataVersion: 3 });
    expect(m.runnerState.pid).toBe(43);
  });
});
