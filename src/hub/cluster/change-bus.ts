/**
 * The narrow bus that tells the other hub replicas that something changed (DESIGN.md, "Hub
 * scale-out"). A doorbell only: a change names ids, never state; whoever hears it reads the
 * tables. Nothing is kept for a listener that is away, so after it reconnects the listener is
 * told to resync in full from the tables. PostgreSQL LISTEN/NOTIFY implements it today
 * (src/hub/store/postgres/pg-change-bus.ts); NATS could, behind the same interface. A hub on
 * SQLite has no bus: its watchers are fed in process, as they always were.
 */

/** What changed, by id only (the reader takes the namespace from the row it reads). */
export type Change =
  | { kind: 'machine'; machineId: string }
  | { kind: 'session'; machineId: string; sessionId: string }
  /** A token was revoked: replicas drop what they cached of it and end its streams. */
  | { kind: 'token'; tokenId: string };

export interface ChangeListener {
  /** Changes announced by other replicas (never this one's own), in the order they arrived. */
  changed(changes: Change[]): void;
  /** The bus lost its connection and is back: changes meanwhile were lost; read everything again. */
  resync(): void;
}

export interface ChangeBus {
  /** This replica's id; announcements carry it, so a replica skips its own. */
  readonly replicaId: string;
  /**
   * Announces a change after it was committed. Never throws: announcements of one turn of the
   * event loop go out together, and are retried for a while when the database is away.
   */
  announce(change: Change): void;
  /** Starts listening; resolves once the first LISTEN is in place. One listener per bus. */
  listen(listener: ChangeListener): Promise<void>;
  /** Stops listening and sends what is still queued (best effort). Idempotent. */
  close(): Promise<void>;
}

/**
 * PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; a payload stays well below that, so
 * a long list of ids goes out as several notifications.
 */
export const MAX_PAYLOAD_BYTES = 7_000;

/** One notification's payload as sent: the sender and ids in three lists. */
interface Payload {
  r: string;
  m?: string[];
  s?: [string, string][];
  t?: string[];
}

/**
 * Encodes changes as JSON payloads, each under MAX_PAYLOAD_BYTES, duplicates dropped, order
 * kept within each kind.
 */
export function encodeChanges(replicaId: string, changes: Iterable<Change>, maxBytes = MAX_PAYLOAD_BYTES): string[] {
  const out: string[] = [];
  let cur: Payload = { r: replicaId };
  let size = JSON.stringify(cur).length;
  const seen = new Set<string>();
  const flush = () => {
    if (cur.m || cur.s || cur.t) out.push(JSON.stringify(cur));
    cur = { r: replicaId };
    size = JSON.stringify(cur).length;
  };
  for (const c of changes) {
    const key = c.kind === 'machine' ? `m ${c.machineId}` : c.kind === 'session' ? `s ${c.machineId} ${c.sessionId}` : `t ${c.tokenId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const item = c.kind === 'machine' ? c.machineId : c.kind === 'session' ? [c.machineId, c.sessionId] : c.tokenId;
    // The item, its comma, and the list's `,"x":[]` when the list is new (an upper bound).
    const bytes = Buffer.byteLength(JSON.stringify(item)) + 8;
    if (size + bytes > maxBytes) flush();
    size += bytes;
    if (c.kind === 'machine') (cur.m ??= []).push(c.machineId);
    else if (c.kind === 'session') (cur.s ??= []).push([c.machineId, c.sessionId]);
    else (cur.t ??= []).push(c.tokenId);
  }
  flush();
  return out;
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 1_000;

/**
 * Decodes one payload: its sender and changes. Anything malformed is dropped (undefined):
 * another program may NOTIFY on the same channel, and a doorbell is never trusted for more
 * than "read this row again".
 */
export function decodeChanges(payload: string): { replicaId: string; changes: Change[] } | undefined {
  let p: Payload;
  try {
    p = JSON.parse(payload) as Payload;
  } catch {
    return undefined;
  }
  if (!p || typeof p !== 'object' || !isText(p.r)) return undefined;
  const changes: Change[] = [];
  for (const id of Array.isArray(p.m) ? p.m : []) if (isText(id)) changes.push({ kind: 'machine', machineId: id });
  for (const pair of Array.isArray(p.s) ? p.s : []) {
    if (Array.isArray(pair) && isText(pair[0]) && isText(pair[1])) changes.push({ kind: 'session', machineId: pair[0], sessionId: pair[1] });
  }
  for (const id of Array.isArray(p.t) ? p.t : []) if (isText(id)) changes.push({ kind: 'token', tokenId: id });
  return { replicaId: p.r, changes };
}
