/**
 * Versioned values of a machine (its metadata and its runner state). A runner updates one
 * with the version it last saw: a stale version is answered with the current value and
 * version instead of overwriting it. At hello the runner's value replaces the stored one,
 * and the version moves only if the value changed.
 */
import type { MachineMetadataInfo, RunnerStateInfo } from '../../contract/types.js';
import type { MachineRecord, UpdateOutcome } from './types.js';

/** Which versioned value, as named on the wire. */
export type VersionedKind = 'metadata' | 'runner-state';

/** The type of each versioned value. */
export interface VersionedValues {
  metadata: MachineMetadataInfo;
  'runner-state': RunnerStateInfo;
}

interface Field<T> {
  get(m: MachineRecord): { value: T; version: number };
  set(m: MachineRecord, value: T, version: number): void;
}

const FIELDS: { [K in VersionedKind]: Field<VersionedValues[K]> } = {
  metadata: {
    get: (m) => ({ value: m.metadata, version: m.metadataVersion }),
    set: (m, value, version) => {
      m.metadata = value;
      m.metadataVersion = version;
    },
  },
  'runner-state': {
    get: (m) => ({ value: m.runnerState, version: m.runnerStateVersion }),
    set: (m, value, version) => {
      m.runnerState = value;
      m.runnerStateVersion = version;
    },
  },
};

/**
 * The runner state once the hub lost its runner (stream ended, alive timeout, hub restart)
 * while it said running: 'lost' since `at`, its other fields as last reported. Any other
 * state (shutting-down, already lost) is kept as it is.
 */
export function lostRunnerState(s: RunnerStateInfo, at: Date): RunnerStateInfo {
  return s.status === 'running' ? { ...s, status: 'lost', lostAt: at } : s;
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The one versioned update: sets `value` on `m` (and bumps its version) when `expectedVersion`
 * is the current one; otherwise leaves `m` alone and returns the current value.
 */
export function applyVersionedUpdate<K extends VersionedKind>(
  m: MachineRecord,
  kind: K,
  expectedVersion: number,
  value: VersionedValues[K],
): UpdateOutcome<VersionedValues[K]> {
  const field = FIELDS[kind] as Field<VersionedValues[K]>;
  const cur = field.get(m);
  if (cur.version !== expectedVersion) return { applied: false, currentVersion: cur.version, current: cur.value };
  field.set(m, value, cur.version + 1);
  return { applied: true, version: cur.version + 1 };
}

/** What the runner reports at hello wins; the version moves only when the value differs. Returns whether it did. */
export function applyReported<K extends VersionedKind>(m: MachineRecord, kind: K, value: VersionedValues[K]): boolean {
  const field = FIELDS[kind] as Field<VersionedValues[K]>;
  const cur = field.get(m);
  if (sameJson(cur.value, value)) return false;
  field.set(m, value, cur.version + 1);
  return true;
}
