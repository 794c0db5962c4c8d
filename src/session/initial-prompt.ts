/**
 * Types a spawn's prompt into an agent's terminal once the agent is ready for it (prompt mode
 * "typed", settings.json `agents.<name>.promptMode`).
 *
 * "Ready" cannot be asked of an arbitrary program, so it is read off the screen. The naive
 * rule, "no output for a while", fails both ways for agents that animate a spinner while they
 * start: a spinner writes every 80-100 ms, so the output is never quiet while it runs, and an
 * agent that keeps a small animation going at its input prompt (a blinking marker, a clock)
 * would never be typed into at all. Two rules instead, over samples of the screen model (the
 * visible text, the cursor and whether the application enabled bracketed paste) taken every
 * SAMPLE_MS:
 *
 * 1. quiet: the visible text and the cursor have not changed at all for QUIET_MS, or for three
 *    times the longest pause seen between two changes if that is longer (at most
 *    MAX_QUIET_MS), and the screen is not blank. A running spinner changes the text at every
 *    frame, so it never counts as quiet, however small it is; its end does. The pause rule is
 *    for a busy machine, where a starved agent's spinner stutters: a stall has to be much
 *    longer than the stutter seen so far to count as the end. And a sample at which the agent's
 *    process is runnable (Linux: state R in /proc, waiting for a CPU or on one) counts as a
 *    change: an agent at its prompt sleeps, while a starved one stalls runnable for as long as
 *    the machine keeps it waiting, which no pause rule can outwait.
 * 2. input-ready: the application enabled bracketed paste (CSI ? 2004 h: it reads keys and
 *    wants pastes marked, which programs do when their line editor or input box is up) and,
 *    for READY_MS, every change stayed inside one small region (one row, at most
 *    SMALL_REGION_COLS columns): a status spinner next to an input box does not delay the
 *    prompt, a screen still being drawn does.
 *
 * Whichever holds first wins. After `maxWaitMs` (HAPI_SESSION_PROMPT_WAIT_MS) the prompt is
 * typed anyway and the session notes it in its log, so a prompt is never silently dropped.
 * It is typed once: as a bracketed paste when the application enabled it, else as is, then
 * Enter (the terminal's sendInput does both). An agent that exits first gets nothing.
 */

/** One look at the screen. */
export interface ScreenSample {
  /** The visible rows as plain text, '\n'-separated. */
  text: string;
  cursor: { x: number; y: number };
  /** The application enabled bracketed paste. */
  bracketedPaste: boolean;
}

export interface InitialPromptOptions {
  prompt: string;
  /** The current screen, once everything written so far has been parsed. */
  sample(): Promise<ScreenSample>;
  /** Types the text (a bracketed paste when enabled) and then Enter. */
  type(text: string): void;
  /** True while the agent's process is runnable, not sleeping (see rule 1); absent: never. */
  agentRunnable?: () => boolean;
  /** Resolves when the agent exited: nothing is typed after that. */
  exited: Promise<unknown>;
  /** Longest wait before typing anyway. */
  maxWaitMs: number;
  note(message: string): void;
  /** Overridable for tests. */
  timing?: Partial<PromptTiming>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface PromptTiming {
  sampleMs: number;
  quietMs: number;
  maxQuietMs: number;
  readyMs: number;
  smallRegionCols: number;
}

export const DEFAULT_PROMPT_TIMING: PromptTiming = { sampleMs: 50, quietMs: 1_000, maxQuietMs: 5_000, readyMs: 300, smallRegionCols: 10 };

export type PromptOutcome = 'quiet' | 'input-ready' | 'timeout' | 'exited';

/** Where two samples' texts differ: nowhere, in one row (a column span), or in several rows. */
export type TextChange = { kind: 'none' } | { kind: 'row'; y: number; from: number; to: number } | { kind: 'rows' };

export function textChange(a: string, b: string): TextChange {
  if (a === b) return { kind: 'none' };
  const rowsA = a.split('\n');
  const rowsB = b.split('\n');
  let found: TextChange = { kind: 'none' };
  for (let y = 0; y < Math.max(rowsA.length, rowsB.length); y++) {
    if (rowsA[y] === rowsB[y]) continue;
    if (found.kind !== 'none') return { kind: 'rows' };
    // Code points, so that a wide or astral character counts as one column.
    const ra = [...(rowsA[y] ?? '')];
    const rb = [...(rowsB[y] ?? '')];
    let from = -1;
    let to = -1;
    for (let x = 0; x < Math.max(ra.length, rb.length); x++) {
      if (ra[x] === rb[x]) continue;
      if (from < 0) from = x;
      to = x;
    }
    found = { kind: 'row', y, from, to };
  }
  return found;
}

/** Waits for the agent to be ready (see above), then types the prompt once. */
export async function typeInitialPrompt(o: InitialPromptOptions): Promise<PromptOutcome> {
  const t = { ...DEFAULT_PROMPT_TIMING, ...o.timing };
  const now = o.now ?? (() => performance.now());
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let exited = false;
  void o.exited.then(() => (exited = true));

  const start = now();
  let previous: ScreenSample | undefined;
  // When the last change of any kind, and the last change beyond the small region, were seen.
  let lastChangeAt = start;
  let lastLargeChangeAt = start;
  // The longest pause between two changes so far (the agent's stutter).
  let longestPause = 0;
  let changes = 0;
  // The region the small changes since the last large one fell in: one row, a column span.
  let region: { y: number; from: number; to: number } | undefined;
  /**
   * Adds a change to the small region; false when it falls outside (a large change), and the
   * region starts again from this change: a spinner's frames after its first are small, rows
   * appearing one by one are each large.
   */
  const staysSmall = (change: TextChange): boolean => {
    if (change.kind === 'none') return true;
    const fresh = change.kind === 'row' && change.to - change.from + 1 <= t.smallRegionCols ? { y: change.y, from: change.from, to: change.to } : undefined;
    if (change.kind === 'row' && region && region.y === change.y) {
      const from = Math.min(region.from, change.from);
      const to = Math.max(region.to, change.to);
      if (to - from + 1 <= t.smallRegionCols) {
        region = { y: region.y, from, to };
        return true;
      }
    }
    region = fresh;
    return false;
  };
  let outcome: PromptOutcome | undefined;
  while (!outcome) {
    if (exited) return 'exited';
    const sample = await o.sample();
    const at = now();
    const blank = sample.text.trim() === '';
    if (previous) {
      const change = textChange(previous.text, sample.text);
      const cursorMoved = previous.cursor.x !== sample.cursor.x || previous.cursor.y !== sample.cursor.y;
      if (change.kind !== 'none' || cursorMoved) {
        if (changes++ > 0) longestPause = Math.max(longestPause, at - lastChangeAt);
        lastChangeAt = at;
      }
      if (!staysSmall(change)) lastLargeChangeAt = at;
    }
    if (blank || o.agentRunnable?.()) lastChangeAt = at;
    previous = sample;

    const quietFor = Math.max(t.quietMs, Math.min(t.maxQuietMs, 3 * longestPause));
    if (!blank && at - lastChangeAt >= quietFor) outcome = 'quiet';
    else if (sample.bracketedPaste && at - lastLargeChangeAt >= t.readyMs) outcome = 'input-ready';
    else if (at - start >= o.maxWaitMs) outcome = 'timeout';
    else await sleep(t.sampleMs);
  }
  if (exited) return 'exited';
  const waited = Math.round(now() - start);
  if (outcome === 'timeout') o.note(`the agent's screen did not settle within ${o.maxWaitMs} ms; typing the prompt anyway`);
  else o.note(`typing the prompt (${o.prompt.length} characters) after ${waited} ms (screen ${outcome})`);
  o.type(o.prompt);
  return outcome;
}
