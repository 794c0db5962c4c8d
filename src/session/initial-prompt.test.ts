import { describe, expect, it } from 'vitest';
import { textChange, typeInitialPrompt, type ScreenSample } from './initial-prompt.js';

const SPIN = ['⠋', '⠙', '⠹', '⠸'];

/** Runs the typer against a screen scripted as a function of (simulated) time. */
async function run(screenAt: (ms: number) => ScreenSample, opts: { maxWaitMs?: number; exitAt?: number; runnableAt?: (ms: number) => boolean } = {}) {
  let clock = 0;
  const typed: { at: number; text: string }[] = [];
  const notes: string[] = [];
  let exit: () => void = () => {};
  const exited = new Promise<void>((r) => (exit = r));
  const outcome = await typeInitialPrompt({
    prompt: 'fix the failing test',
    sample: async () => screenAt(clock),
    agentRunnable: opts.runnableAt && (() => opts.runnableAt!(clock)),
    type: (text) => typed.push({ at: clock, text }),
    exited,
    maxWaitMs: opts.maxWaitMs ?? 10_000,
    note: (m) => notes.push(m),
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
      if (opts.exitAt !== undefined && clock >= opts.exitAt) {
        exit();
        await Promise.resolve();
      }
    },
  });
  return { outcome, typed, notes };
}

const screen = (text: string, bracketedPaste = false, cursor = { x: 0, y: 0 }): ScreenSample => ({ text, cursor, bracketedPaste });

describe('typeInitialPrompt', () => {
  it('waits out a spinner (its frames keep the screen from being quiet), then types once', async () => {
    const r = await run((ms) =>
      ms < 3_000 ? screen(`argv []\n${SPIN[Math.floor(ms / 80) % SPIN.length]} starting`, false, { x: 10, y: 1 }) : screen('argv []\nready\n> ', false, { x: 2, y: 2 }),
    );
    expect(r.outcome).toBe('quiet');
    expect(r.typed).toHaveLength(1);
    expect(r.typed[0]!.at).toBeGreaterThanOrEqual(4_000);
    expect(r.typed[0]!.text).toBe('fix the failing test');
  });

  it('does not take a starved agent (runnable, its spinner stalled) for a quiet one', async () => {
    // The spinner stops at 1 s: the agent waits for a CPU until 4 s, then draws its prompt at 4.5 s.
    const r = await run(
      (ms) => (ms < 1_000 ? screen(`${SPIN[Math.floor(ms / 80) % SPIN.length]} starting`) : ms < 4_500 ? screen('⠙ starting') : screen('ready\n> ', false, { x: 2, y: 1 })),
      { runnableAt: (ms) => ms >= 1_000 && ms < 4_000 },
    );
    expect(r.outcome).toBe('quiet');
    expect(r.typed).toHaveLength(1);
    expect(r.typed[0]!.at).toBeGreaterThanOrEqual(5_500);
    // Without the runnable check the stalled spinner would have been typed into at 2 s.
    const blind = await run((ms) => (ms < 1_000 ? screen(`${SPIN[Math.floor(ms / 80) % SPIN.length]} starting`) : ms < 4_500 ? screen('⠙ starting') : screen('ready\n> ', false, { x: 2, y: 1 })));
    expect(blind.typed[0]!.at).toBeLessThan(4_500);
  });

  it('types soon after the agent enabled bracketed paste, a small animation notwithstanding', async () => {
    const r = await run((ms) => {
      if (ms < 2_000) return screen(`${SPIN[Math.floor(ms / 80) % SPIN.length]} loading the model and the repository`);
      // The input box is up (bracketed paste on); a status spinner keeps turning in its corner.
      return screen(`╭────────╮\n│ >      │\n╰────────╯ ${SPIN[Math.floor(ms / 80) % SPIN.length]} 12 tokens`, true, { x: 4, y: 1 });
    });
    expect(r.outcome).toBe('input-ready');
    expect(r.typed).toHaveLength(1);
    expect(r.typed[0]!.at).toBeGreaterThanOrEqual(2_300);
    expect(r.typed[0]!.at).toBeLessThan(2_700);
  });

  it('on a busy machine, waits out a spinner that stutters, not only one that turns evenly', async () => {
    // Frames every 80 ms, but the agent is starved now and then: pauses of 400 ms, then one of 1.1 s.
    const frameAt = (ms: number) => {
      if (ms < 1_000) return Math.floor(ms / 80);
      if (ms < 1_400) return 100;
      if (ms < 2_000) return 101 + Math.floor((ms - 1_400) / 80);
      if (ms < 3_100) return 200;
      return 201 + Math.floor((ms - 3_100) / 80);
    };
    const r = await run((ms) => (ms < 4_000 ? screen(`${SPIN[frameAt(ms) % SPIN.length]} starting ${frameAt(ms) % 2}`) : screen('ready\n> ', false, { x: 2, y: 1 })));
    expect(r.outcome).toBe('quiet');
    expect(r.typed[0]!.at).toBeGreaterThanOrEqual(4_000);
  });

  it('does not take bracketed paste alone for readiness while the screen is still being drawn', async () => {
    // Bracketed paste from the first byte, while rows keep appearing until 1.5 s.
    const r = await run((ms) => screen(Array.from({ length: 1 + Math.floor(Math.min(ms, 1_500) / 100) }, (_, i) => `line ${i}`).join('\n'), true));
    expect(r.outcome).toBe('input-ready');
    expect(r.typed[0]!.at).toBeGreaterThanOrEqual(1_800);
  });

  it('does not type into a blank screen until the wait is over, then types anyway and says so', async () => {
    const r = await run(() => screen('\n\n'), { maxWaitMs: 2_000 });
    expect(r.outcome).toBe('timeout');
    expect(r.typed).toHaveLength(1);
    expect(r.typed[0]!.at).toBeGreaterThanOrEqual(2_000);
    expect(r.notes.join('\n')).toMatch(/did not settle within 2000 ms; typing the prompt anyway/);
  });

  it('types after the longest wait when the screen never settles', async () => {
    const r = await run((ms) => screen(`frame ${ms}\n${'x'.repeat(ms % 37)}`), { maxWaitMs: 3_000 });
    expect(r.outcome).toBe('timeout');
    expect(r.typed).toHaveLength(1);
  });

  it('types nothing once the agent has exited', async () => {
    const r = await run((ms) => screen(`${SPIN[Math.floor(ms / 80) % SPIN.length]} starting`), { exitAt: 1_000 });
    expect(r.outcome).toBe('exited');
    expect(r.typed).toEqual([]);
  });
});

describe('textChange', () => {
  it('finds the one row and the columns that changed', () => {
    expect(textChange('a\nb', 'a\nb')).toEqual({ kind: 'none' });
    expect(textChange('ab ⠋ x\nz', 'ab ⠙ x\nz')).toEqual({ kind: 'row', y: 0, from: 3, to: 3 });
    expect(textChange('a\nb', 'a\nbcd')).toEqual({ kind: 'row', y: 1, from: 1, to: 2 });
    expect(textChange('a\nb', 'x\ny')).toEqual({ kind: 'rows' });
  });
});
