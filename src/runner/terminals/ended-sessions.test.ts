import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ScreenText } from '../../contract/session-types.js';
import type { SessionInfo } from '../../contract/types.js';
import { silentLogger } from '../../shared/logger.js';
import { MAX_KEPT, MAX_SCREEN_BYTES, boundScreen, createEndedSessions } from './ended-sessions.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function store(keepMs = 60_000, clock = { t: 1_000_000 }) {
  const dir = mkdtempSync(join(tmpdir(), 'hapi-ended-'));
  dirs.push(dir);
  const make = () => createEndedSessions({ dir, keepMs, log: silentLogger(), now: () => clock.t });
  return { dir, clock, make };
}

const session = (id: string, endedAt: number): SessionInfo => ({
  id, pid: 1, startedBy: 'runner', directory: '/w', agent: 'claude', startedAt: new Date(endedAt - 1000), state: 'ended', endedAt: new Date(endedAt), exitCode: 3,
});
const screen = (text: string): ScreenText => ({ text, ansi: `\x1b[1m${text}`, cursor: { x: 1, y: 2 }, cols: 80, rows: 24, offset: 42 });

describe('ended sessions kept by the runner', () => {
  it('keeps the final screen and exit status on disk, for a new runner, until the keep time passes', () => {
    const s = store();
    const a = s.make();
    a.load();
    a.keep(session('one', s.clock.t), screen('bye'));
    a.keep(session('two', s.clock.t));
    const b = s.make();
    b.load();
    expect(b.get('one')).toEqual({ session: session('one', s.clock.t), screen: screen('bye') });
    expect(b.get('two')?.screen).toBeUndefined();
    expect(b.list().map((x) => x.id)).toEqual(['one', 'two']);
    for (const f of readdirSync(s.dir)) expect(statSync(join(s.dir, f)).mode & 0o777).toBe(0o600);
    s.clock.t += 60_001;
    expect(b.get('one')).toBeUndefined();
    b.prune();
    expect(readdirSync(s.dir)).toEqual([]);
  });

  it('is bounded: at most MAX_KEPT sessions (the oldest go) and a screen of at most MAX_SCREEN_BYTES', () => {
    const s = store();
    const a = s.make();
    for (let i = 0; i < MAX_KEPT + 5; i++) a.keep(session(`s-${i}`, s.clock.t + i));
    expect(a.list()).toHaveLength(MAX_KEPT);
    expect(a.session('s-0')).toBeUndefined();
    expect(a.session(`s-${MAX_KEPT + 4}`)).toBeDefined();
    expect(readdirSync(s.dir)).toHaveLength(MAX_KEPT);

    const rows = Array.from({ length: 40_000 }, (_, i) => `row ${i}`).join('\n');
    const big = boundScreen(screen(rows));
    expect(big.ansi).toBe('');
    expect(Buffer.byteLength(big.text)).toBeLessThanOrEqual(MAX_SCREEN_BYTES);
    expect(big.text.endsWith('row 39999')).toBe(true);
    expect(big.text.startsWith('row ')).toBe(true);
  });

  it('keeps nothing with a keep time of 0', () => {
    const s = store(0);
    const a = s.make();
    a.keep(session('x', s.clock.t), screen('x'));
    expect(a.get('x')).toBeUndefined();
    expect(readdirSync(s.dir)).toEqual([]);
  });
});
