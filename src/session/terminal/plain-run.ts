/**
 * Finds output the screen model may pass over without parsing it: a run of plain lines
 * (printable text, tab, CR, LF and SGR colour sequences, nothing else) long enough that what
 * the model shows afterwards, scrollback included, is decided by its last lines alone.
 *
 * Why skipping is exact. Such a run changes nothing but the cells it writes, the cursor and the
 * current SGR attributes. Each line feed moves the cursor down a row or, at the bottom of the
 * scroll region, scrolls a fresh row in (blank in the current background). A parse that skips
 * the start of the run and one that does not may place the first kept lines differently, but
 * once the cursor stands at the region's bottom in both (after `rows` line feeds at most) they
 * write the same rows; every row written before that has left the buffer after another
 * `rows + scrollback` line feeds. So keeping `scrollback + 2 * rows` lines (`keepLines`) leaves
 * the model exactly as a parse of the whole run does, provided the parser stood in its ground
 * state at the start with the cursor inside the scroll region (ScreenModel.atRest, which the
 * caller checks). The SGR sequences of the skipped part are replayed (from the last full reset
 * on), so the kept lines are drawn in the colours they would have had.
 *
 * Conservative by design: any other control, escape sequence, invalid UTF-8 or C1 character
 * ends the run, and only CR LF pairs count as lines.
 */

/** The longest SGR sequence taken as part of a run (longer ones end it). */
const MAX_SGR_BYTES = 64;
/** SGR bytes a cut may have to replay (since the last full reset); a run needing more ends there. */
const MAX_RESIDUE_BYTES = 256 * 1024;

export interface PlainRunCut {
  /** Skip the output in [from, skipTo): not parsed, its SGR sequences replayed (`residue`). */
  skipTo: number;
  /** Parse [skipTo, to): the last `keepLines` lines, ending with a CR LF. */
  to: number;
  /** The SGR sequences the skipped part leaves in effect, to parse before the kept lines. */
  residue: Buffer;
}

export interface PlainRun {
  /** Output offset the run starts at (where the model was found at rest). */
  readonly start: number;
  /** Offset scanned up to (the run's end once it is closed). */
  readonly end: number;
  /** False once a byte that is not part of plain lines was met, or `close` was called. */
  readonly open: boolean;
  /** Scans the output bytes at offset `end` (ignored once the run is closed). */
  scan(data: Uint8Array): void;
  /** Ends the run where it is scanned to (something other than output happens there: a resize). */
  close(): void;
  /**
   * Where a parser at rest at `from` (start <= from <= end) may skip to: undefined unless the run
   * holds `keepLines` whole lines past a line end after `from`, and the skip passes over at least
   * as many bytes as are left to parse.
   */
  cut(from: number): PlainRunCut | undefined;
}

const enum Lex {
  Text,
  /** After ESC: only `[` continues an SGR sequence. */
  Escape,
  /** In `ESC [ params`: digits, `;` and `:` until `m`. */
  Params,
}

/**
 * True when one of the word's four bytes is not printable ASCII (below 0x20, or 0x7f and up):
 * the classic "has a byte less than n" test, and the top bit of the byte or of the byte plus one.
 */
function hasSpecialByte(x: number): boolean {
  return ((((x - 0x20202020) & ~x) | x | (x + 0x01010101)) & 0x80808080) !== 0;
}

export function createPlainRun(start: number, keepLines: number): PlainRun {
  if (!Number.isSafeInteger(keepLines) || keepLines < 1) throw new RangeError(`keepLines must be a positive integer, got ${keepLines}`);
  let end = start;
  let open = true;
  let lex = Lex.Text;
  let afterCr = false;
  /** UTF-8: continuation bytes still expected, the code point so far, and its smallest legal value. */
  let pending = 0;
  let codePoint = 0;
  let minCodePoint = 0;
  /** The SGR sequence being read. */
  const seq = Buffer.allocUnsafe(MAX_SGR_BYTES);
  let seqLength = 0;
  /**
   * Every SGR sequence of the run, back to back, as a stream with absolute positions: `sgr`
   * holds [sgrBase, sgrEnd). `lastReset`: where the last full reset starts (the run's start
   * counts as one: the model's attributes there are its own).
   */
  let sgr = Buffer.alloc(0);
  let sgrBase = 0;
  let sgrEnd = 0;
  let lastReset = 0;
  /**
   * The last `keepLines + 1` line ends (just past a CR LF), in a circular list: the offset, and
   * what of the SGR stream the output before it leaves in effect ([reset, sgrAt)). The list
   * starts small and grows to its size as lines come: a TUI's output makes a run at nearly
   * every turn, which ends at its first cursor move.
   */
  const size = keepLines + 1;
  let cap = Math.min(size, 64);
  let lineEnds = new Float64Array(cap);
  let lineReset = new Float64Array(cap);
  let lineSgrAt = new Float64Array(cap);
  let lines = 0;
  const grown = (a: Float64Array, to: number) => {
    const next = new Float64Array(to);
    next.set(a);
    return next;
  };
  /** Where line end `n` is kept (valid for the last `cap` of them; `cap` is `size` once lines passed it). */
  const slot = (n: number) => n % cap;

  /** The SGR stream a cut may still need starts here: at the oldest line end a cut can choose. */
  const neededFrom = () => (lines === 0 ? lastReset : lineReset[lines > keepLines ? slot(lines - keepLines - 1) : 0]!);

  /** Appends a whole SGR sequence; false when the run would have to keep too much of them. */
  function addSgr(): boolean {
    // `ESC [ m` and `ESC [ 0 m` reset every attribute: what came before them stops mattering.
    if (seqLength === 3 || (seqLength === 4 && seq[2] === 0x30)) lastReset = sgrEnd;
    const from = neededFrom();
    if (sgrEnd + seqLength - from > MAX_RESIDUE_BYTES) return false;
    if (sgrEnd + seqLength - sgrBase > sgr.length) {
      // Drop what no cut needs any more; grow when that is not enough.
      const kept = sgr.subarray(from - sgrBase, sgrEnd - sgrBase);
      const next = kept.length + seqLength > sgr.length / 2 ? Buffer.allocUnsafe(Math.max(256, sgr.length * 2)) : sgr;
      kept.copy(next, 0);
      sgr = next;
      sgrBase = from;
    }
    seq.copy(sgr, sgrEnd - sgrBase, 0, seqLength);
    sgrEnd += seqLength;
    return true;
  }

  function scan(data: Uint8Array): void {
    if (!open) return;
    const base = end;
    const n = data.length;
    // The lexer's state in locals (not the closure's slots) for the loop: most bytes take the
    // first test alone.
    let state = lex;
    let left = pending;
    // Four bytes at a time where they are aligned: a JavaScript loop costs some 2 ns a byte here.
    const head = (4 - (data.byteOffset & 3)) & 3;
    const words = n - head >= 16 ? new Uint32Array(data.buffer, data.byteOffset + head, (n - head) >> 2) : undefined;
    const wordsEnd = words ? head + words.length * 4 : 0;
    let i = 0;
    for (; i < n; i++) {
      if (words && state === Lex.Text && left === 0 && i >= head && i < wordsEnd && ((i - head) & 3) === 0) {
        let w = (i - head) >> 2;
        while (w < words.length && !hasSpecialByte(words[w]!)) w++;
        i = head + w * 4;
        if (i >= n) break;
      }
      const b = data[i]!;
      if (b >= 0x20 && b < 0x7f && state === Lex.Text && left === 0) continue;
      if (state !== Lex.Text) {
        if (seqLength === MAX_SGR_BYTES) break;
        seq[seqLength++] = b;
        if (state === Lex.Escape) {
          if (b !== 0x5b) break;
          state = Lex.Params;
        } else if (b === 0x6d) {
          state = Lex.Text;
          if (!addSgr()) break;
        } else if (b < 0x30 || b > 0x3b) break; // digits, `:` and `;` only: no private or intermediate bytes
        continue;
      }
      if (left > 0) {
        if ((b & 0xc0) !== 0x80) break;
        codePoint = (codePoint << 6) | (b & 0x3f);
        if (--left === 0 && (codePoint < minCodePoint || (codePoint >= 0xd800 && codePoint <= 0xdfff) || codePoint > 0x10ffff)) break;
        continue;
      }
      if (b === 0x0a) {
        if (i > 0 ? data[i - 1] === 0x0d : afterCr) {
          if (lines === cap && cap < size) {
            cap = Math.min(size, cap * 2);
            [lineEnds, lineReset, lineSgrAt] = [grown(lineEnds, cap), grown(lineReset, cap), grown(lineSgrAt, cap)];
          }
          const k = slot(lines);
          lineEnds[k] = base + i + 1;
          lineReset[k] = lastReset;
          lineSgrAt[k] = sgrEnd;
          lines++;
        }
        continue;
      }
      if (b === 0x0d || b === 0x09) continue;
      if (b === 0x1b) {
        state = Lex.Escape;
        seq[0] = b;
        seqLength = 1;
        continue;
      }
      // UTF-8 lead bytes; C1 controls (U+0080..U+009F), overlong forms, surrogates and anything
      // past U+10FFFF end the run (xterm would not print them as text).
      if (b >= 0xc2 && b <= 0xdf) [left, codePoint, minCodePoint] = [1, b & 0x1f, 0xa0];
      else if (b >= 0xe0 && b <= 0xef) [left, codePoint, minCodePoint] = [2, b & 0x0f, 0x800];
      else if (b >= 0xf0 && b <= 0xf4) [left, codePoint, minCodePoint] = [3, b & 0x07, 0x10000];
      else break;
    }
    lex = state;
    pending = left;
    if (i < n) open = false;
    else if (n > 0) afterCr = data[n - 1] === 0x0d && state === Lex.Text && left === 0;
    end = base + i;
  }

  return {
    start,
    get end() {
      return end;
    },
    get open() {
      return open;
    },
    scan,
    close() {
      open = false;
    },
    cut(from) {
      if (lines <= keepLines) return undefined;
      const k = slot(lines - 1 - keepLines);
      const skipTo = lineEnds[k]!;
      const to = lineEnds[slot(lines - 1)]!;
      if (skipTo <= from || skipTo - from < to - skipTo) return undefined;
      const residue = Buffer.from(sgr.subarray(lineReset[k]! - sgrBase, lineSgrAt[k]! - sgrBase));
      return { skipTo, to, residue };
    },
  };
}
