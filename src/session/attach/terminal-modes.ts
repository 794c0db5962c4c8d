/**
 * Which terminal modes the application in a session switched on, read from the output a viewer
 * writes to a person's terminal, so that leaving that terminal (detach, the end of the session, an
 * error) switches exactly those back: the alternate screen, mouse tracking, bracketed paste, a
 * hidden cursor, application keys, focus events, the kitty keyboard protocol. Sending a reset for
 * every mode blindly is not safe: some terminals misread sequences they do not know.
 *
 * A sequence may be split across output chunks: an unfinished escape at the end of a chunk is
 * kept and read with the next one.
 */

/** DEC private modes that are on unless switched off; every other tracked one is off by default. */
const ON_BY_DEFAULT = new Set([7, 25]);
/** DEC private modes worth restoring (others are left as the application left them). */
const TRACKED = new Set([1, 7, 9, 12, 25, 47, 66, 1000, 1002, 1003, 1004, 1005, 1006, 1015, 1016, 1047, 1049, 2004]);
/** Alternate-screen modes: switched back last, so the normal screen comes back with its cursor. */
const ALT_SCREEN = [1049, 1047, 47];

// CSI ? Pm h|l (DEC private modes); CSI > flags u / CSI < n u (kitty keyboard push/pop);
// CSI top;bottom r (scroll region); ESC = / ESC > (application / normal keypad).
const SEQUENCE = /\x1b\[\?([\d;]*)([hl])|\x1b\[>(\d*)u|\x1b\[<(\d*)u|\x1b\[(\d*;\d*)r|\x1b([=>])/g;
/** An escape sequence cut off at the end of a chunk (up to this many bytes are kept). */
const UNFINISHED = /\x1b(\[[\d;?<>]*)?$/;
const MAX_CARRY = 64;

export interface TerminalModes {
  /** Reads output as it is written to the terminal. */
  observe(data: Uint8Array): void;
  /** Forget everything (the terminal was reset). */
  reset(): void;
  /** The bytes that switch back every mode the application changed; empty when there is none. */
  restoreSequence(): string;
}

export function createTerminalModes(): TerminalModes {
  /** Mode -> whether the application left it on. Only modes it changed. */
  let modes = new Map<number, boolean>();
  let kittyPushes = 0;
  let scrollRegion = false;
  let keypad = false;
  let carry = '';

  function apply(m: RegExpExecArray): void {
    if (m[2]) {
      for (const part of m[1]!.split(';')) {
        const mode = Number(part);
        if (TRACKED.has(mode)) modes.set(mode, m[2] === 'h');
      }
    } else if (m[3] !== undefined) kittyPushes++;
    else if (m[4] !== undefined) kittyPushes = Math.max(0, kittyPushes - Math.max(1, Number(m[4] || '1')));
    else if (m[5] !== undefined) scrollRegion = m[5] !== ';' && m[5] !== '';
    else if (m[6]) keypad = m[6] === '=';
  }

  return {
    observe(data) {
      // latin1 keeps one char per byte: the sequences are ASCII, and no UTF-8 text can fake an ESC.
      const text = carry + Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
      carry = '';
      if (!text.includes('\x1b')) return;
      SEQUENCE.lastIndex = 0;
      for (let m = SEQUENCE.exec(text); m; m = SEQUENCE.exec(text)) apply(m);
      const tail = UNFINISHED.exec(text.slice(-MAX_CARRY));
      if (tail) carry = tail[0];
    },
    reset() {
      modes = new Map();
      kittyPushes = 0;
      scrollRegion = false;
      keypad = false;
      carry = '';
    },
    restoreSequence() {
      let out = '';
      for (const [mode, on] of modes) {
        if (ALT_SCREEN.includes(mode) || on === ON_BY_DEFAULT.has(mode)) continue;
        out += `\x1b[?${mode}${ON_BY_DEFAULT.has(mode) ? 'h' : 'l'}`;
      }
      if (kittyPushes > 0) out += `\x1b[<${kittyPushes}u`;
      if (keypad) out += '\x1b>';
      // Before leaving the alternate screen, which puts the normal screen's cursor back.
      if (scrollRegion) out += '\x1b[r';
      for (const mode of ALT_SCREEN) if (modes.get(mode)) out += `\x1b[?${mode}l`;
      return out ? `\x1b[0m${out}` : '';
    },
  };
}
