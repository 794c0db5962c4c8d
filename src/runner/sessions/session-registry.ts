/**
 * The durable registry of the sessions a runner tracks: an in-memory map (insertion order =
 * oldest first) mirrored to one JSON file, rewritten atomically on every change. A new runner
 * (after a crash, a stop/start or an upgrade hand-off) loads it to re-adopt live sessions.
 *
 * Writes are synchronous on purpose: a change is on disk before the caller answers anyone, so
 * a `kill -9` of the runner right after a spawn answered never loses that session.
 *
 * When a write fails (a full disk: ResourceExhausted "disk full"), the file keeps its previous
 * content. Adding or updating a session is then undone in memory too and the error goes to the
 * caller (the spawn or report fails; nothing is half-recorded). Forgetting a session (it ended,
 * or the registry is rebuilt at start) stays done in memory, since the process is gone either
 * way and an entry left on disk only names a dead process; the file catches up at the next
 * successful write or retryUnsaved().
 */
import { renameSync } from 'node:fs';
import { writeJsonAtomic, readJsonFile } from '../../shared/atomic-file.js';
import type { Logger } from '../../shared/logger.js';
import { quoteValue, sessionProblem } from '../../contract/limits.js';
import type { SessionInfo, StartedBy, WorktreeInfo } from '../../contract/types.js';

const FORMAT_VERSION = 1;

/** What is persisted per session: identity and where it runs, not transient state. */
export interface RegistryEntry {
  id: string;
  pid: number;
  processStartTime?: string;
  directory: string;
  agent: string;
  startedBy: StartedBy;
  /** ISO 8601. */
  startedAt: string;
  /** 'starting' = spawned by a runner and not yet reported. */
  state: 'starting' | 'running';
  worktree?: WorktreeInfo;
  logPath?: string;
  requestId?: string;
}

interface RegistryFile {
  version: number;
  sessions: RegistryEntry[];
}

export interface SessionRegistry {
  /**
   * Reads the file. When it cannot be trusted (missing, unreadable, unparseable, or with
   * malformed entries) the live sessions are also looked for with `discover` and merged in;
   * an unparseable file is first kept aside as `<file>.corrupt-<timestamp>` and logged.
   */
  load(): RegistryEntry[];
  get(id: string): SessionInfo | undefined;
  /**
   * Adds or replaces a session and persists. Replacing keeps its position (age order). If the
   * write fails the change is undone and the error (ResourceExhausted on a full disk) thrown.
   */
  put(session: SessionInfo): void;
  /** Removes a session and persists (a failed write is logged and retried later); returns it if it was there. */
  remove(id: string): SessionInfo | undefined;
  /** Removes several sessions with one write; returns those that were there. */
  removeMany(ids: string[]): SessionInfo[];
  /** Replaces the whole content at once (one write), e.g. after re-adoption; a failed write is logged and retried later. */
  replaceAll(sessions: SessionInfo[]): void;
  /** Writes the file again if an earlier write failed (e.g. from the heartbeat). */
  retryUnsaved(): void;
  /** Live sessions, oldest first. O(n), no I/O. */
  values(): SessionInfo[];
  size(): number;
  findByPid(pid: number): SessionInfo | undefined;
  findByRequestId(requestId: string): SessionInfo | undefined;
  /** Rewrites the file from memory. */
  flush(): void;
}

export interface SessionRegistryOptions {
  file: string;
  log: Logger;
  /** Finds the live sessions from the processes themselves (session-discovery.ts). */
  discover?: () => RegistryEntry[];
}

export function createSessionRegistry(opts: SessionRegistryOptions): SessionRegistry {
  const sessions = new Map<string, SessionInfo>();
  const log = opts.log;
  /** An earlier write failed: the file lags behind memory (only ever by forgotten sessions). */
  let unsaved = false;

  function flush(): void {
    const body: RegistryFile = { version: FORMAT_VERSION, sessions: [...sessions.values()].map(toEntry) };
    writeJsonAtomic(opts.file, body, 0o600);
    unsaved = false;
  }

  /** For changes that only forget: memory stays changed even when the file cannot follow. */
  function flushOrRemember(): void {
    try {
      flush();
    } catch (err) {
      unsaved = true;
      log.error({ err, file: opts.file }, 'cannot write the session registry; it will be written again with the next change');
    }
  }

  function load(): RegistryEntry[] {
    const read = readJsonFile<unknown>(opts.file);
    let entries: RegistryEntry[] = [];
    let trusted = false;
    const parsed = read.ok ? parseRegistry(read.value, opts.file, log) : undefined;
    if (parsed) {
      entries = parsed.entries;
      trusted = parsed.complete;
    } else if (read.ok || read.reason === 'corrupt') {
      keepAside(read.ok ? 'no "sessions" array' : read.error);
    }
    if (trusted || !opts.discover) return entries;
    const known = new Set(entries.map((e) => e.id));
    const found = opts.discover().filter((e) => !known.has(e.id));
    log.info({ found: found.map((e) => ({ sessionId: e.id, sessionPid: e.pid })) }, `looked for live sessions of this HAPI_HOME in their processes: found ${found.length}`);
    return [...entries, ...found];
  }

  function keepAside(error: string | undefined): void {
    const aside = `${opts.file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      renameSync(opts.file, aside);
      log.error({ file: opts.file, keptAs: aside, error }, `session registry cannot be parsed; kept aside as ${aside}`);
    } catch (err) {
      log.error({ file: opts.file, error, err }, 'session registry cannot be parsed, nor kept aside');
    }
  }

  return {
    load,
    get: (id) => sessions.get(id),
    put(session) {
      const previous = sessions.get(session.id);
      sessions.set(session.id, session);
      try {
        flush();
      } catch (err) {
        // Undo: the caller fails, so nothing is recorded anywhere.
        if (previous) sessions.set(session.id, previous);
        else sessions.delete(session.id);
        throw err;
      }
    },
    remove(id) {
      const found = sessions.get(id);
      if (!found) return undefined;
      sessions.delete(id);
      flushOrRemember();
      return found;
    },
    removeMany(ids) {
      const removed: SessionInfo[] = [];
      for (const id of ids) {
        const found = sessions.get(id);
        if (found && sessions.delete(id)) removed.push(found);
      }
      if (removed.length > 0) flushOrRemember();
      return removed;
    },
    replaceAll(list) {
      sessions.clear();
      for (const s of list) sessions.set(s.id, s);
      flushOrRemember();
    },
    retryUnsaved() {
      if (unsaved) flushOrRemember();
    },
    values: () => [...sessions.values()],
    size: () => sessions.size,
    findByPid(pid) {
      for (const s of sessions.values()) if (s.pid === pid) return s;
      return undefined;
    },
    findByRequestId(requestId) {
      for (const s of sessions.values()) if (s.requestId === requestId) return s;
      return undefined;
    },
    flush,
  };
}

/** Registry entry -> domain session (state as persisted; the caller decides liveness). */
export function fromEntry(e: RegistryEntry): SessionInfo {
  return {
    id: e.id,
    pid: e.pid,
    processStartTime: e.processStartTime,
    startedBy: e.startedBy,
    directory: e.directory,
    agent: e.agent,
    startedAt: new Date(e.startedAt),
    state: e.state,
    worktree: e.worktree,
    logPath: e.logPath,
    requestId: e.requestId,
  };
}

function toEntry(s: SessionInfo): RegistryEntry {
  const entry: RegistryEntry = {
    id: s.id,
    pid: s.pid,
    processStartTime: s.processStartTime,
    directory: s.directory,
    agent: s.agent,
    startedBy: s.startedBy,
    startedAt: s.startedAt.toISOString(),
    state: s.state === 'starting' ? 'starting' : 'running',
  };
  if (s.worktree) entry.worktree = s.worktree;
  if (s.logPath) entry.logPath = s.logPath;
  if (s.requestId) entry.requestId = s.requestId;
  return entry;
}

/**
 * Keeps every well-formed entry and logs the others; one bad entry must not lose the rest.
 * `complete` is false when anything was dropped (then the live sessions are looked for);
 * undefined when the file is not a registry at all.
 */
function parseRegistry(value: unknown, file: string, log: Logger): { entries: RegistryEntry[]; complete: boolean } | undefined {
  const list = typeof value === 'object' && value !== null ? (value as Partial<RegistryFile>).sessions : undefined;
  if (!Array.isArray(list)) return undefined;
  const entries: RegistryEntry[] = [];
  for (const raw of list) {
    // Quoted, not whole: a bad entry may be huge (an id of 900 KB was once accepted).
    if (!isEntry(raw)) {
      log.warn({ file, entry: quoteValue(JSON.stringify(raw)) }, 'ignoring malformed session registry entry');
      continue;
    }
    // Written by an older runner that accepted any id or text: such a session is not kept.
    const problem = sessionProblem(fromEntry(raw));
    if (problem) {
      log.warn({ file, sessionId: quoteValue(raw.id), sessionPid: raw.pid, problem }, 'ignoring session registry entry that breaks the session rules');
      continue;
    }
    entries.push(raw);
  }
  return { entries, complete: entries.length === list.length };
}

function isEntry(v: unknown): v is RegistryEntry {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return (
    typeof e.id === 'string' &&
    e.id !== '' &&
    typeof e.pid === 'number' &&
    Number.isInteger(e.pid) &&
    e.pid > 0 &&
    (e.processStartTime === undefined || typeof e.processStartTime === 'string') &&
    typeof e.directory === 'string' &&
    typeof e.agent === 'string' &&
    (e.startedBy === 'runner' || e.startedBy === 'terminal') &&
    typeof e.startedAt === 'string' &&
    !Number.isNaN(Date.parse(e.startedAt)) &&
    (e.state === 'starting' || e.state === 'running')
  );
}
