/**
 * What the runner tells the hub about its live terminals for the page's session list: when each
 * agent last wrote output and the last line of its screen (hapi.hub.v1.SessionActivity). Each
 * poll asks every live session's socket for GetInfo (cheap) and, only for a session whose
 * output offset moved since it was last reported, for its screen. `fresh` (a new hub link)
 * reports every session again, since the hub keeps this in memory only.
 */
import { existsSync } from 'node:fs';
import type { ScreenText, TerminalInfo } from '../../contract/session-types.js';
import { sameActivity, type AgentActivityInfo } from '../../contract/activity-types.js';
// From types.ts, not machine-link.ts: the runner's eager modules must not load the hub link's contract.
import { MAX_ACTIVITY_LINE_CHARS as MAX_LAST_LINE_CHARS, type SessionActivityInfo } from '../../contract/types.js';

/** Sessions asked at once. */
const CONCURRENCY = 16;
const CALL_TIMEOUT_MS = 2_000;

export interface SessionActivityWatchOptions {
  /** The live sessions' ids. */
  ids: () => string[];
  socketFor: (sessionId: string) => string;
  getInfo: (socket: string, signal: AbortSignal) => Promise<Pick<TerminalInfo, 'lastOutputAt' | 'outputOffset' | 'activity'>>;
  /** The screen as parsed so far; `offset` (when given) the output it stands for. */
  getScreen: (socket: string, signal: AbortSignal) => Promise<Pick<ScreenText, 'text'> & Partial<Pick<ScreenText, 'offset'>>>;
}

export interface SessionActivityWatch {
  /** The sessions whose activity changed since the last poll (all of them when `fresh`; among `only` when given). */
  poll(fresh: boolean, only?: string[]): Promise<SessionActivityInfo[]>;
}

/** The last non-blank line of a screen's text, trailing blanks removed, at most MAX_LAST_LINE_CHARS. */
export function lastLineOf(text: string): string {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.replace(/\s+$/, '');
    if (line) return line.length > MAX_LAST_LINE_CHARS ? line.slice(0, MAX_LAST_LINE_CHARS) : line;
  }
  return '';
}

export function createSessionActivityWatch(o: SessionActivityWatchOptions): SessionActivityWatch {
  /** What was last reported, per session. */
  const reported = new Map<string, { offset: number; lastLine: string; activity?: AgentActivityInfo }>();

  async function look(id: string): Promise<SessionActivityInfo | undefined> {
    const socket = o.socketFor(id);
    if (!existsSync(socket)) return undefined;
    try {
      const info = await o.getInfo(socket, AbortSignal.timeout(CALL_TIMEOUT_MS));
      const before = reported.get(id);
      const moved = before?.offset !== info.outputOffset;
      if (!moved && sameActivity(before?.activity, info.activity)) return undefined;
      // The screen is asked for only when there is new output: an activity change alone is cheap.
      const screen = moved ? await o.getScreen(socket, AbortSignal.timeout(CALL_TIMEOUT_MS)) : undefined;
      const lastLine = screen ? lastLineOf(screen.text) : before!.lastLine;
      // A screen that lags the output is looked at again on the next poll.
      const offset = screen ? Math.min(info.outputOffset, screen.offset ?? info.outputOffset) : before!.offset;
      reported.set(id, { offset, lastLine, activity: info.activity });
      return { sessionId: id, lastOutputAt: info.lastOutputAt, lastLine, activity: info.activity };
    } catch {
      // Not answering now (ending, busy): asked again on the next poll.
      return undefined;
    }
  }

  return {
    async poll(fresh, only) {
      if (fresh) reported.clear();
      const all = o.ids();
      const live = new Set(all);
      for (const id of reported.keys()) if (!live.has(id)) reported.delete(id);
      const ids = only ? only.filter((id) => live.has(id)) : all;
      const out: SessionActivityInfo[] = [];
      for (let i = 0; i < ids.length; i += CONCURRENCY) {
        for (const a of await Promise.all(ids.slice(i, i + CONCURRENCY).map(look))) if (a) out.push(a);
      }
      return out;
    },
  };
}
