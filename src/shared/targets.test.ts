import { describe, expect, it } from 'vitest';
import { isHapiError } from './errors.js';
import { exitCodeOf } from './exit-codes.js';
import { pickMachine, pickSession, type MachineChoice, type SessionChoice } from './targets.js';

const m = (id: string, name: string, online = true, hostname = name): MachineChoice => ({ id, online, metadata: { displayName: name, hostname } });
const MACHINES = [
  m('6108ae28-7956-4cb6-bb98-bffa8102e731', 'laptop'),
  m('61aa0000-0000-0000-0000-000000000000', 'desk', true, 'desk.lan'),
  m('9c000000-0000-0000-0000-000000000000', 'build', false),
  m('9d000000-0000-0000-0000-000000000000', 'build'),
  m('build', 'other'),
];

/** The error `fn` throws, with the exit code the CLI gives it. */
function failure(fn: () => unknown): { message: string; exit: number; details?: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    if (!isHapiError(err)) throw err;
    return { message: err.message, exit: exitCodeOf(err.kind), details: err.details };
  }
  throw new Error('did not throw');
}

describe('--machine resolution', () => {
  it('takes an id, a unique id prefix, a display name or a host name (any case)', () => {
    expect(pickMachine(MACHINES, '6108ae28-7956-4cb6-bb98-bffa8102e731').metadata?.displayName).toBe('laptop');
    expect(pickMachine(MACHINES, '610').metadata?.displayName).toBe('laptop');
    expect(pickMachine(MACHINES, '61a').metadata?.displayName).toBe('desk');
    expect(pickMachine(MACHINES, 'laptop').id).toBe('6108ae28-7956-4cb6-bb98-bffa8102e731');
    expect(pickMachine(MACHINES, 'LapTop').id).toBe('6108ae28-7956-4cb6-bb98-bffa8102e731');
    expect(pickMachine(MACHINES, 'desk.lan').id).toBe('61aa0000-0000-0000-0000-000000000000');
    expect(pickMachine(MACHINES, ' 9d ').id).toBe('9d000000-0000-0000-0000-000000000000');
  });

  it('an exact id wins over a name or a prefix that would be ambiguous', () => {
    expect(pickMachine(MACHINES, 'build').metadata?.displayName).toBe('other');
  });

  it('ambiguous: exit 2, naming every candidate with its name and state', () => {
    const f = failure(() => pickMachine(MACHINES, '61'));
    expect(f.exit).toBe(2);
    expect(f.message).toBe(
      '--machine "61" matches 2 machines; give its id or a longer prefix:\n' +
        '  6108ae28-7956-4cb6-bb98-bffa8102e731 (laptop, online)\n' +
        '  61aa0000-0000-0000-0000-000000000000 (desk, online)',
    );
    const byName = failure(() => pickMachine(MACHINES.slice(0, 4), 'build'));
    expect(byName.exit).toBe(2);
    expect(byName.details?.candidates).toEqual(['9c000000-0000-0000-0000-000000000000', '9d000000-0000-0000-0000-000000000000']);
    expect(byName.message).toContain('9c000000-0000-0000-0000-000000000000 (build, offline)');
  });

  it('unknown: exit 4; empty: exit 2', () => {
    const f = failure(() => pickMachine(MACHINES, 'ghost'));
    expect(f.exit).toBe(4);
    expect(f.message).toBe('no machine matches "ghost" (by id, id prefix or name); see `hapi machines`');
    expect(failure(() => pickMachine([], 'x')).exit).toBe(4);
    expect(failure(() => pickMachine(MACHINES, '  ')).exit).toBe(2);
  });

  it('lists at most 10 candidates and counts the rest', () => {
    const many = Array.from({ length: 13 }, (_, i) => m(`aa${String(i).padStart(2, '0')}`, 'same'));
    const f = failure(() => pickMachine(many, 'same'));
    expect(f.message.split('\n')).toHaveLength(12);
    expect(f.message).toMatch(/\.\.\. and 3 more$/);
  });
});

describe('session resolution', () => {
  const s = (id: string, live = true, machineId = 'm1'): SessionChoice => ({ id, machineId, live });
  const SESSIONS = [s('a1b2c3d4-1111'), s('a1b2ffff-2222'), s('b7000000-3333', false), s('c9000000-4444'), s('c9000000-5555', false)];

  it('takes an id or a unique prefix (the short id the page shows)', () => {
    expect(pickSession(SESSIONS, 'a1b2c3d4-1111')?.id).toBe('a1b2c3d4-1111');
    expect(pickSession(SESSIONS, 'a1b2c3d4')?.id).toBe('a1b2c3d4-1111');
    expect(pickSession(SESSIONS, 'a1b2f')?.id).toBe('a1b2ffff-2222');
  });

  it('a prefix shared with ended sessions picks the live one; only ended ones: unique among them', () => {
    expect(pickSession(SESSIONS, 'c9')?.id).toBe('c9000000-4444');
    expect(pickSession(SESSIONS, 'b7')?.id).toBe('b7000000-3333');
    expect(pickSession(SESSIONS, 'c9000000-5555')?.id).toBe('c9000000-5555');
  });

  it('ambiguous: exit 2 with the candidates; no match: undefined (the runner answers)', () => {
    const f = failure(() => pickSession(SESSIONS, 'a1b2'));
    expect(f.exit).toBe(2);
    expect(f.message).toBe('session "a1b2" matches 2 sessions; give a longer prefix:\n  a1b2c3d4-1111 (machine m1)\n  a1b2ffff-2222 (machine m1)');
    expect(pickSession(SESSIONS, 'zz')).toBeUndefined();
    expect(failure(() => pickSession(SESSIONS, '')).exit).toBe(2);
  });
});

describe('session candidates', () => {
  it('name their machine and label when given, so an ambiguous prefix on this machine reads well', () => {
    const local = [
      { id: 'abc1', machineId: '', live: true, label: 'running, pid 10, /w' },
      { id: 'abc2', machineId: '', live: true, label: 'running, pid 11, /w' },
    ];
    const f = failure(() => pickSession(local, 'abc'));
    expect(f.exit).toBe(2);
    expect(f.message).toBe('session "abc" matches 2 sessions; give a longer prefix:\n  abc1 (running, pid 10, /w)\n  abc2 (running, pid 11, /w)');
    expect(f.details).toEqual({ session: 'abc', candidates: ['abc1', 'abc2'] });
  });
});
