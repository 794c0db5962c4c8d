/**
 * Ended sessions the runner keeps for HAPI_ENDED_SESSION_KEEP_MS, so `hapi screen` and
 * `hapi attach` of a session that ended still show how it ended. On disk under
 * $HAPI_HOME/ended-sessions/, two files per session written with the project's atomic write:
 * `<id>.screen.json` (its final screen, when the session sent one) first, then `<id>.json`
 * (the session and its exit status), whose presence makes the record complete. A runner that
 * starts (after a crash, a stop/start or a hand-off) reads the small `<id>.json` files only;
 * screens are read when asked for.
 *
 * Bounded so that a flood of ended sessions fills neither the disk nor memory: at most
 * MAX_KEPT records and MAX_TOTAL_BYTES of screens (the oldest go first), each screen at most
 * MAX_SCREEN_BYTES (see SessionEndedRequest.final_screen). A write that fails (a full disk) is
 * logged and the record is not kept: the session's end is still answered and announced.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ScreenText } from '../../contract/session-types.js';
import { isValidSessionId, type SessionInfo } from '../../contract/types.js';
import { readJsonFile, writeJsonAtomic } from '../../shared/atomic-file.js';
import type { Logger } from '../../shared/logger.js';

/** Most ended sessions kept at once. */
export const MAX_KEPT = 1000;
/** Most bytes of final screens kept at once (on disk; memory holds none of them). */
export const MAX_TOTAL_BYTES = 64 * 1024 * 1024;
/** Most bytes of one final screen (text + ANSI). */
export const MAX_SCREEN_BYTES = 256 * 1024;

const FORMAT_VERSION = 1;

export interface KeptSession {
  /** state 'ended', with endedAt and the exit status. */
  session: SessionInfo;
  /** Undefined: the session sent no final screen (killed, or an older build). */
  screen?: ScreenText;
}

export interface EndedSessions {
  /** Reads what an earlier runner kept; drops what expired and files that cannot be read. */
  load(): void;
  /** Keeps an ended session (replacing an earlier record of the same id). Never throws. */
  keep(session: SessionInfo, screen?: ScreenText): void;
  /** The session (without reading its screen), or undefined when not kept or expired. */
  session(id: string): SessionInfo | undefined;
  /** The record with its screen, read from disk; undefined when not kept or expired. */
  get(id: string): KeptSession | undefined;
  /** Kept sessions, oldest end first. */
  list(): SessionInfo[];
  /** Forgets what expired. */
  prune(): void;
}

interface IndexEntry {
  session: SessionInfo;
  /** Size of its screen file (0: none). */
  bytes: number;
}

/** Cuts a screen to MAX_SCREEN_BYTES: the ANSI form goes first, then text from the top. */
export function boundScreen(s: ScreenText): ScreenText {
  const size = (x: ScreenText) => Buffer.byteLength(x.text) + Buffer.byteLength(x.ansi);
  if (size(s) <= MAX_SCREEN_BYTES) return s;
  const noAnsi = { ...s, ansi: '' };
  if (size(noAnsi) <= MAX_SCREEN_BYTES) return noAnsi;
  const bytes = Buffer.from(s.text);
  const cut = bytes.subarray(bytes.length - MAX_SCREEN_BYTES).toString('utf8');
  // Start at a row boundary, and never with half a character.
  const text = cut.slice(cut.indexOf('\n') + 1).replace(/^\uFFFD+/, '');
  return { ...noAnsi, text };
}

export function createEndedSessions(o: { dir: string; keepMs: number; log: Logger; now?: () => number }): EndedSessions {
  const now = o.now ?? Date.now;
  const index = new Map<string, IndexEntry>();
  const metaFile = (id: string) => join(o.dir, `${id}.json`);
  const screenFile = (id: string) => join(o.dir, `${id}.screen.json`);
  let totalBytes = 0;

  const expired = (s: SessionInfo) => o.keepMs <= 0 || now() - (s.endedAt?.getTime() ?? 0) > o.keepMs;

  function forget(id: string): void {
    const entry = index.get(id);
    if (entry) {
      index.delete(id);
      totalBytes -= entry.bytes;
    }
    rmSync(metaFile(id), { force: true });
    rmSync(screenFile(id), { force: true });
  }

  /** Drops the oldest until within the bounds; `room` bytes are about to be added. */
  function makeRoom(room: number): void {
    for (const [id] of index) {
      if (index.size < MAX_KEPT && totalBytes + room <= MAX_TOTAL_BYTES) return;
      forget(id);
    }
  }

  return {
    load() {
      let names: string[] = [];
      try {
        names = readdirSync(o.dir);
      } catch {
        return;
      }
      const loaded: IndexEntry[] = [];
      for (const name of names) {
        const m = /^(.+)\.json$/.exec(name);
        if (!m || m[1]!.endsWith('.screen')) continue;
        const id = m[1]!;
        const read = readJsonFile<{ version?: number; session?: Record<string, unknown> }>(join(o.dir, name));
        const session = read.ok && isValidSessionId(id) ? sessionFromFile(read.value.session) : undefined;
        if (!session || session.id !== id || expired(session)) {
          forget(id);
          continue;
        }
        let bytes = 0;
        try {
          bytes = statSync(screenFile(id)).size;
        } catch {
          // no screen kept
        }
        loaded.push({ session, bytes });
      }
      // Screens whose record was never completed (a crash between the two writes).
      for (const name of names) {
        const m = /^(.+)\.screen\.json$/.exec(name);
        if (m && !loaded.some((e) => e.session.id === m[1])) rmSync(join(o.dir, name), { force: true });
      }
      loaded.sort((a, b) => a.session.endedAt!.getTime() - b.session.endedAt!.getTime());
      for (const e of loaded) {
        index.set(e.session.id, e);
        totalBytes += e.bytes;
      }
      makeRoom(0);
      if (loaded.length > 0) o.log.info({ kept: index.size }, 'ended sessions kept by an earlier runner loaded');
    },
    keep(session, screen) {
      if (o.keepMs <= 0) return;
      const ended: SessionInfo = { ...session, state: 'ended', endedAt: session.endedAt ?? new Date(now()) };
      try {
        forget(ended.id);
        const bounded = screen && boundScreen(screen);
        const body = bounded ? `${JSON.stringify({ version: FORMAT_VERSION, screen: bounded })}\n` : '';
        makeRoom(body.length);
        if (bounded) writeJsonAtomic(screenFile(ended.id), { version: FORMAT_VERSION, screen: bounded });
        writeJsonAtomic(metaFile(ended.id), { version: FORMAT_VERSION, session: sessionToFile(ended) });
        const bytes = bounded ? statSync(screenFile(ended.id)).size : 0;
        index.set(ended.id, { session: ended, bytes });
        totalBytes += bytes;
      } catch (err) {
        rmSync(screenFile(ended.id), { force: true });
        o.log.error({ err, sessionId: ended.id }, 'cannot keep the final screen of an ended session');
      }
    },
    session(id) {
      const e = index.get(id);
      if (!e) return undefined;
      if (expired(e.session)) {
        forget(id);
        return undefined;
      }
      return { ...e.session };
    },
    get(id) {
      const session = this.session(id);
      if (!session) return undefined;
      if (index.get(id)!.bytes === 0) return { session };
      const read = readJsonFile<{ screen?: ScreenText }>(screenFile(id));
      return { session, screen: read.ok ? read.value.screen : undefined };
    },
    list() {
      this.prune();
      return [...index.values()].map((e) => ({ ...e.session }));
    },
    prune() {
      for (const [id, e] of index) if (expired(e.session)) forget(id);
    },
  };
}

function sessionToFile(s: SessionInfo): Record<string, unknown> {
  return { ...s, startedAt: s.startedAt.toISOString(), endedAt: s.endedAt?.toISOString() };
}

function sessionFromFile(raw: Record<string, unknown> | undefined): SessionInfo | undefined {
  if (!raw || typeof raw.id !== 'string' || typeof raw.endedAt !== 'string' || typeof raw.startedAt !== 'string') return undefined;
  const endedAt = new Date(raw.endedAt);
  const startedAt = new Date(raw.startedAt);
  if (Number.isNaN(endedAt.getTime()) || Number.isNaN(startedAt.getTime())) return undefined;
  return {
    id: raw.id,
    pid: typeof raw.pid === 'number' ? raw.pid : 0,
    startedBy: raw.startedBy === 'terminal' ? 'terminal' : 'runner',
    directory: typeof raw.directory === 'string' ? raw.directory : '',
    agent: typeof raw.agent === 'string' ? raw.agent : '',
    startedAt,
    state: 'ended',
    endedAt,
    exitCode: typeof raw.exitCode === 'number' ? raw.exitCode : undefined,
    exitSignal: typeof raw.exitSignal === 'string' ? raw.exitSignal : undefined,
    worktree: raw.worktree as SessionInfo['worktree'],
    logPath: typeof raw.logPath === 'string' ? raw.logPath : undefined,
  };
}
