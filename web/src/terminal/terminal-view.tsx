/**
 * A session's terminal, full screen over the session list (loaded only when a terminal is
 * opened: xterm is a chunk of its own). On a phone: a key bar for the keys its keyboard lacks,
 * a composer for typing a prompt comfortably, a Copy action, and a box that follows the visual
 * viewport, so the soft keyboard shrinks the terminal instead of pushing the page around.
 * A read-only sign-in watches only; a full one can switch to read-only (and back).
 */
import { ActivityBadge, ApprovalPanel, DecisionHistory } from '../components/approvals.js';
import { useEffect, useRef, useState } from 'preact/hooks';
import { shortId } from '../format.js';
import type { Session } from '../types.js';
import type { AttachState } from './attach-socket.js';
import { barKeyBytes, type BarKey } from './keys.js';
import { useTerminal, type TerminalLink } from './use-terminal.js';
import { useVisualViewport } from './visual-viewport.js';

export interface TerminalViewProps {
  machineId: string;
  sessionId: string;
  session: Session | undefined;
  /** The sign-in's scope is read-only: no typing controls, and no way to switch. */
  scopeReadOnly: boolean;
  onClose(): void;
}

const STATE_LABEL: Record<AttachState, string> = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  ended: 'disconnected',
};

export function TerminalView(props: TerminalViewProps) {
  const screen = useRef<HTMLDivElement>(null);
  const host = useRef<HTMLDivElement>(null);
  const [watchOnly, setWatchOnly] = useState(props.scopeReadOnly);
  const readOnly = props.scopeReadOnly || watchOnly;
  const link = useTerminal(host, props.machineId, props.sessionId, readOnly ? 'read-only' : 'interactive');
  const [copied, setCopied] = useState<{ text: string; status: string } | undefined>();
  useVisualViewport(screen);

  useEffect(() => {
    document.documentElement.classList.add('terminal-open');
    return () => document.documentElement.classList.remove('terminal-open');
  }, []);

  const title = `${props.session?.agent || 'session'} ${shortId(props.sessionId)}`;
  const ended = link.exit !== undefined;

  const copy = async () => {
    const term = link.terminal();
    if (!term) return;
    let text = term.hasSelection() ? term.getSelection() : '';
    if (!text) {
      const buffer = term.buffer.active;
      const lines: string[] = [];
      for (let y = buffer.viewportY; y < buffer.viewportY + term.rows; y++) lines.push(buffer.getLine(y)?.translateToString(true) ?? '');
      text = lines.join('\n').replace(/\n+$/, '');
    }
    let status = 'Select the text below and copy it.';
    try {
      await navigator.clipboard.writeText(text);
      status = 'Copied to the clipboard.';
    } catch {
      // No clipboard access (plain http, or refused): the text is shown to copy by hand.
    }
    setCopied({ text, status });
  };

  return (
    <div class="term-screen" ref={screen} role="dialog" aria-label={`Terminal of ${title}`}>
      <header class="term-head">
        <button type="button" class="link" onClick={props.onClose} aria-label="Back to sessions">
          ‹ Sessions
        </button>
        <span class="term-title" title={props.session?.directory}>
          {title}
        </span>
        <ActivityBadge activity={props.session?.activity} />
        <span class={`conn conn-${link.state}`} role="status" data-state={link.state} title={link.detail}>
          {STATE_LABEL[link.state]}
          {link.viewers !== undefined && link.viewers > 1 ? ` · ${link.viewers} viewers` : ''}
        </span>
      </header>
      <div class="term-tools">
        {props.scopeReadOnly ? (
          <span class="pill read-only">read-only</span>
        ) : (
          <label class="switch">
            <input type="checkbox" checked={watchOnly} onChange={(e) => setWatchOnly(e.currentTarget.checked)} />
            Read-only
          </label>
        )}
        <button type="button" onClick={() => void copy()}>
          Copy
        </button>
        {link.state === 'ended' && !ended && (
          <button type="button" onClick={link.reconnect}>
            Reconnect
          </button>
        )}
      </div>
      {props.session && <ApprovalPanel session={props.session} machineId={props.machineId} readOnly={props.scopeReadOnly} />}
      <DecisionHistory machineId={props.machineId} sessionId={props.sessionId} now={Date.now()} refresh={props.session?.activity?.requests?.length} />
      {/* Notices float over the terminal: one that took layout space would shrink the terminal, and
          the refit would resize the session (a reconnect once came back 3 rows short). */}
      <div class="term-stage">
        <div class={`term-host${readOnly ? ' read-only' : ''}`} ref={host} />
        {link.problem ? (
          <p class="error term-notice term-problem" role="alert">
            {link.problem.message || link.problem.code}
          </p>
        ) : ended ? (
          <p class="notice term-notice term-exit" role="status">
            The session ended{link.exit?.exitSignal ? ` (${link.exit.exitSignal})` : link.exit?.exitCode != null ? ` (exit ${link.exit.exitCode})` : ''}.
          </p>
        ) : (
          link.state === 'reconnecting' &&
          link.detail && (
            <p class="notice term-notice term-reconnecting" role="status">
              Reconnecting: {link.detail}
            </p>
          )
        )}
      </div>
      {!readOnly && !ended && <KeyBar link={link} />}
      {!readOnly && !ended && <Composer link={link} />}
      {copied && (
        <div class="copy-sheet" role="dialog" aria-label="Copy text">
          <p class="muted">{copied.status}</p>
          <textarea readOnly value={copied.text} aria-label="Copied text" onFocus={(e) => e.currentTarget.select()} />
          <button type="button" onClick={() => setCopied(undefined)}>
            Close
          </button>
        </div>
      )}
    </div>
  );
}

const KEYS: { key: BarKey; label: string; name: string }[] = [
  { key: 'esc', label: 'Esc', name: 'Escape' },
  { key: 'tab', label: 'Tab', name: 'Tab' },
  { key: 'shift-tab', label: '⇤', name: 'Shift-Tab' },
  { key: 'ctrl-c', label: '^C', name: 'Ctrl-C' },
  { key: 'left', label: '←', name: 'Left' },
  { key: 'up', label: '↑', name: 'Up' },
  { key: 'down', label: '↓', name: 'Down' },
  { key: 'right', label: '→', name: 'Right' },
  { key: 'enter', label: '⏎', name: 'Enter' },
];

/** The keys a phone keyboard lacks. Buttons never take the focus, so the soft keyboard stays as it is. */
function KeyBar(props: { link: TerminalLink }) {
  const { link } = props;
  const press = (key: BarKey) => {
    const term = link.terminal();
    link.type(barKeyBytes(key, term?.modes.applicationCursorKeysMode ?? false));
  };
  const keep = (e: Event) => e.preventDefault();
  return (
    <div class="key-bar" role="toolbar" aria-label="Keys">
      <button type="button" aria-label="Ctrl" aria-pressed={link.ctrl} class={link.ctrl ? 'on' : ''} onMouseDown={keep} onClick={() => link.setCtrl(!link.ctrl)}>
        Ctrl
      </button>
      {KEYS.map((k) => (
        <button key={k.key} type="button" aria-label={k.name} onMouseDown={keep} onClick={() => press(k.key)}>
          {k.label}
        </button>
      ))}
    </div>
  );
}

/** A prompt typed in a real text box (autocorrect, dictation), sent as a paste and then Enter. */
function Composer(props: { link: TerminalLink }) {
  const [text, setText] = useState('');
  const [refused, setRefused] = useState(false);
  const send = (e: Event) => {
    e.preventDefault();
    if (!text) return;
    if (props.link.input(text)) {
      setText('');
      setRefused(false);
    } else setRefused(true);
  };
  return (
    <form class="composer" onSubmit={send}>
      <textarea
        aria-label="Prompt"
        rows={1}
        placeholder="Type a prompt…"
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          // Enter sends on a desktop keyboard; Shift-Enter (and a phone's return key with Shift) adds a line.
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) send(e);
        }}
      />
      <button type="submit" class="primary" disabled={!text}>
        Send
      </button>
      {refused && <span class="error small">not connected</span>}
    </form>
  );
}
