/**
 * An xterm terminal wired to a session's attach socket: the snapshot at once, then live output;
 * keystrokes (with the key bar's sticky Ctrl) as input; the terminal fitted to its box, and an
 * interactive viewer's size sent to the session. Read-only: the terminal takes the session's
 * size (the box scrolls sideways if it is wider) and sends nothing.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { attachUrl } from '../api.js';
import { createAttachSocket, type AttachMode, type AttachProblem, type AttachSocket, type AttachState, type SocketLike, type ExitInfo } from './attach-socket.js';
import { withCtrl } from './keys.js';
import { attachTouchScroll } from './touch-scroll.js';

export interface TerminalLink {
  state: AttachState;
  detail: string;
  problem: AttachProblem | undefined;
  exit: ExitInfo | undefined;
  viewers: number | undefined;
  ctrl: boolean;
  setCtrl(on: boolean): void;
  /** Sends keystrokes (the sticky Ctrl applies to the next one); false when nothing was sent. */
  type(data: string): boolean;
  input(text: string): boolean;
  reconnect(): void;
  terminal(): Terminal | undefined;
}

export function useTerminal(host: { current: HTMLElement | null }, machineId: string, sessionId: string, mode: AttachMode): TerminalLink {
  const [state, setState] = useState<AttachState>('connecting');
  const [detail, setDetail] = useState('');
  const [problem, setProblem] = useState<AttachProblem | undefined>();
  const [exit, setExit] = useState<ExitInfo | undefined>();
  const [viewers, setViewers] = useState<number | undefined>();
  const [ctrl, setCtrlState] = useState(false);
  const ctrlRef = useRef(false);
  const termRef = useRef<Terminal | undefined>(undefined);
  const sockRef = useRef<AttachSocket | undefined>(undefined);
  const fitRef = useRef<(() => void) | undefined>(undefined);
  const modeRef = useRef(mode);
  modeRef.current = mode;

  const setCtrl = (on: boolean) => {
    ctrlRef.current = on;
    setCtrlState(on);
  };

  const type = (data: string): boolean => {
    let bytes = data;
    if (ctrlRef.current) {
      bytes = withCtrl(data);
      setCtrl(false);
    }
    return sockRef.current?.type(bytes) ?? false;
  };

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const term = new Terminal({
      fontSize: 13,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
      scrollback: 5000,
      disableStdin: modeRef.current === 'read-only',
      // A phone's long-press selects words; the page's Copy button copies the rest.
      rightClickSelectsWord: true,
      theme: { background: '#101317', foreground: '#e6e8eb' },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    termRef.current = term;
    const fitNow = () => {
      if (modeRef.current === 'interactive') {
        try {
          fit.fit();
        } catch {
          // Not laid out yet (hidden): the next resize fits it.
        }
      }
    };
    fitNow();
    fitRef.current = fitNow;

    const sock = createAttachSocket({
      url: () => attachUrl(machineId, sessionId),
      mode: modeRef.current,
      size: () => ({ cols: term.cols, rows: term.rows }),
      // The browser's handlers take DOM event types; SocketLike names only what the client reads.
      createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
      handlers: {
        snapshot(s) {
          setProblem(undefined);
          term.reset();
          // Interactive: our size is the session's (the hello set it); read-only: show the session's.
          if (modeRef.current === 'read-only' || term.cols === 0) term.resize(s.cols, s.rows);
          term.write(s.screen);
          term.write(`\x1b[${s.cursor.y + 1};${s.cursor.x + 1}H`);
          if (modeRef.current === 'interactive' && (s.cols !== term.cols || s.rows !== term.rows)) sock.resize(term.cols, term.rows);
        },
        output: (bytes) => term.write(bytes),
        exited: (e) => setExit(e),
        problem: (p) => setProblem(p),
        state(next, why) {
          // A problem is why the view ended; connecting again (the Reconnect button) clears it.
          if (next !== 'ended') setProblem(undefined);
          setState(next);
          setDetail(why);
        },
        viewers: (n) => setViewers(n),
      },
    });
    sockRef.current = sock;
    const subs = [
      term.onData((d) => type(d)),
      term.onBinary((d) => sock.type(Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff))),
      term.onResize(({ cols, rows }) => sock.resize(cols, rows)),
    ];
    const detachTouch = attachTouchScroll(el, term);
    let frame = 0;
    const observer = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(fitNow);
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      detachTouch();
      cancelAnimationFrame(frame);
      for (const s of subs) s.dispose();
      sock.close();
      term.dispose();
      termRef.current = undefined;
      sockRef.current = undefined;
    };
  }, [machineId, sessionId]);

  // The read-only switch: the same terminal re-attached in the other mode, from the offset held.
  useEffect(() => {
    const term = termRef.current;
    if (!term) return;
    term.options.disableStdin = mode === 'read-only';
    // Back to interactive: take the box's size again; the new hello carries it.
    if (mode === 'interactive') fitRef.current?.();
    sockRef.current?.setMode(mode);
  }, [mode]);

  return {
    state,
    detail,
    problem,
    exit,
    viewers,
    ctrl,
    setCtrl,
    type,
    input: (text) => sockRef.current?.input(text, { paste: true, enter: true }) ?? false,
    reconnect: () => sockRef.current?.reconnect(),
    terminal: () => termRef.current,
  };
}
