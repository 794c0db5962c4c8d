/**
 * The durable registry of the sessions a runner tracks: an in-memory map (insertion order =
 * oldest first) mirrored to one JSON file, rewritten atomically on every change. A new runner
 * (after a crash, a stop/start or an upgrade hand-off) loads it to re-adopt live sessions.
 *
 * Writes are synchronous on purpose: a change is on disk before the caller answers anyone, so
 * a `kill -9` of the runner right after a spawn answered never loses that session.
 */
import { writeJsonAtomic, readJsonFile } from '../../shared/atomic-file.js';
import type { Logger } from '../../shared/logger.js';
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
  /** Reads the file; a missing file is empty, a corrupt one is logged and treated as empty. */
  load(): RegistryEntry[];
  get(id: string): SessionInfo | undefined;
  /** Adds or replaces a session and persists. Replacing keeps its position (age order). */
  put(session: SessionInfo): void;
  /** Removes a session and persists; returns it if it was there. */
  remove(id: string): SessionInfo | undefined;
  /** Removes several sessions with one write; returns those that were there. */
  removeMany(ids: string[]): SessionInfo[];
  /** Replaces the whole content at once (one write), e.g. after re-adoption. */
  replaceAll(sessions: SessionInfo[]): void;
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
}

export function createSessionRegistry(opts: SessionRegistryOptions): SessionRegistry {
  const sessions = new Map<string, SessionInfo>();
  const log = opts.log;

  function flush(): void {
    const body: RegistryFile = { version: FORMAT_VERSION, sessions: [...sessions.values()].map(toEntry) };
    writeJsonAtomic(opts.file, body, 0o600);
  }

  return {
    load() {
      const read = readJsonFile<unknown>(opts.file);
      if (!read.ok) {
        if (read.reason === 'corrupt') log.error({ file: opts.file, error: read.error }, 'session registry is corrupt; starting with an empty registry');
        return [];
      }
      return parseRegistry(read.value, opts.file, log);
    },
    get: (id) => sessions.get(id),
    put(session) {
      sessions.set(session.id, session);
      flush();
    },
    remove(id) {
      const found = sessions.get(id);
      if (!found) return undefined;
      sessions.delete(id);
      flush();
      return found;
    },
    removeMany(ids) {
      const removed: SessionInfo[] = [];
      for (const id of ids) {
        const found = sessions.get(id);
        if (found && sessions.delete(id)) removed.push(found);
      }
      if (removed.length > 0) flush();
      return removed;
    },
    replaceAll(list) {
      sessions.clear();
      for (const s of list) sessions.set(s.id, s);
      flush();
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

/** Keeps every well-formed entry and logs the others; one bad entry must not lose the rest. */
function parseRegistry(value: unknown, file: string, log: Logger): RegistryEntry[] {
  const list = typeof value === 'object' && value !== null ? (value as Partial<RegistryFile>).sessions : undefined;
  if (!Array.isArray(list)) {
    log.error({ file }, 'session registry has no "sessions" array; starting with an empty registry');
    return [];
  }
  const out: RegistryEntry[] = [];
  for (const raw of list) {
    if (isEntry(raw)) out.push(raw);
    else log.warn({ file, entry: raw }, 'ignoring malformed session registry entry');
  }
  return out;
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
