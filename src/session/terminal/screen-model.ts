/**
 * The model of a session's screen: every output byte is fed to a headless xterm, so a viewer
 * that (re)attaches gets the screen serialized as ANSI instead of the whole history. xterm
 * parses asynchronously: `offset` is the output offset the model has parsed up to, which is
 * the offset a snapshot stands for.
 */
// @xterm/headless and its addon are CommonJS: named ESM imports fail (TOOLCHAIN.md).
import xtermHeadless from '@xterm/headless';
import xtermSerialize from '@xterm/addon-serialize';

/** What the serialize addon writes between the normal and the alternate screen. */
const ALT_SCREEN_SWITCH = '\x1b[?1049h\x1b[H';

export interface ScreenState {
  /**
   * Scrollback and visible rows with modes, as ANSI, to restore the screen in a viewer's terminal.
   * With `visibleOnly`: the visible rows of the active screen only, without modes or a switch to
   * the alternate screen, so printing it (`hapi screen --ansi`) changes nothing in the terminal
   * it is printed to.
   */
  ansi: string;
  cursor: { x: number; y: number };
  cols: number;
  rows: number;
  /** The output offset this state stands for. */
  offset: number;
}

export interface ScreenModel {
  /** The output offset parsed so far. */
  readonly offset: number;
  readonly cols: number;
  readonly rows: number;
  /** True when the application enabled bracketed paste (CSI ? 2004 h). */
  readonly bracketedPaste: boolean;
  /**
   * Feeds output bytes; they count as parsed once xterm has processed them, and then `parsed`
   * runs (in the order of the writes, before xterm parses the next one). `covers`: the output
   * bytes the data stands for, when that is not its length (a skip: plain-run.ts).
   */
  write(data: Uint8Array, parsed?: () => void, covers?: number): void;
  /**
   * True when the parser stands in its ground state (not inside an escape sequence or a
   * character) with the cursor inside the scroll region: where a run of plain lines may be
   * skipped (plain-run.ts). Reads xterm's internals: false, never wrong, if they change.
   */
  atRest(): boolean;
  /** Lines a skip must keep to leave the model as a full parse does: scrollback + 2 x rows. */
  readonly keepLines: number;
  resize(cols: number, rows: number): void;
  /** Resolves once everything written so far has been parsed. */
  flush(): Promise<void>;
  /** The state; `withoutAnsi`: its `ansi` empty (serializing is most of what a snapshot costs). */
  snapshot(opts?: { visibleOnly?: boolean; withoutAnsi?: boolean }): ScreenState;
  /** The visible rows as plain text, trailing spaces trimmed. */
  text(): string;
  dispose(): void;
}

/** The parts of xterm's core `atRest` reads (not public API; checked at every use). */
interface XtermCore {
  _inputHandler?: { _parser?: { currentState?: number; _parseStack?: { state?: number } }; _utf8Decoder?: { interim?: Uint8Array } };
  buffer?: { y?: number; scrollTop?: number; scrollBottom?: number };
}

export function createScreenModel(opts: { cols: number; rows: number; scrollback: number }): ScreenModel {
  const term = new xtermHeadless.Terminal({ cols: opts.cols, rows: opts.rows, scrollback: opts.scrollback, allowProposedApi: true });
  const serializer = new xtermSerialize.SerializeAddon();
  term.loadAddon(serializer);
  let parsed = 0;
  const core = (term as unknown as { _core?: XtermCore })._core;

  return {
    get offset() {
      return parsed;
    },
    get cols() {
      return term.cols;
    },
    get rows() {
      return term.rows;
    },
    get bracketedPaste() {
      return term.modes.bracketedPasteMode;
    },
    write(data, done, covers) {
      const length = covers ?? data.length;
      term.write(data, () => {
        parsed += length;
        done?.();
      });
    },
    resize(cols, rows) {
      term.resize(cols, rows);
    },
    atRest() {
      const parser = core?._inputHandler?._parser;
      const interim = core?._inputHandler?._utf8Decoder?.interim;
      const buffer = core?.buffer;
      if (parser?.currentState !== 0 || parser._parseStack?.state !== 0 || !interim || interim[0] !== 0) return false;
      const { y, scrollTop, scrollBottom } = buffer ?? {};
      return typeof y === 'number' && typeof scrollTop === 'number' && typeof scrollBottom === 'number' && y >= scrollTop && y <= scrollBottom;
    },
    get keepLines() {
      return opts.scrollback + 2 * term.rows;
    },
    flush() {
      return new Promise((resolve) => term.write('', resolve));
    },
    snapshot({ visibleOnly = false, withoutAnsi = false } = {}) {
      function visibleAnsi(): string {
        const out = serializer.serialize({ scrollback: 0, excludeModes: true });
        if (term.buffer.active.type !== 'alternate') return out;
        // The addon writes the normal screen, then switches to the alternate one and writes it:
        // keep only what follows the switch (the screen the application shows).
        const at = out.indexOf(ALT_SCREEN_SWITCH);
        return at < 0 ? out : out.slice(at + ALT_SCREEN_SWITCH.length);
      }
      const buffer = term.buffer.active;
      return {
        ansi: withoutAnsi ? '' : visibleOnly ? visibleAnsi() : serializer.serialize(),
        cursor: { x: buffer.cursorX, y: buffer.cursorY },
        cols: term.cols,
        rows: term.rows,
        offset: parsed,
      };
    },
    text() {
      const buffer = term.buffer.active;
      const lines: string[] = [];
      for (let y = 0; y < term.rows; y++) lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
      return lines.join('\n');
    },
    dispose() {
      term.dispose();
    },
  };
}
