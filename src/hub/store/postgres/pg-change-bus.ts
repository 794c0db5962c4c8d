/**
 * The change bus (src/hub/cluster/change-bus.ts) over PostgreSQL LISTEN/NOTIFY. Announcements
 * of one turn of the event loop go out as one `SELECT pg_notify(...)` per payload (ids only,
 * each payload under 8000 bytes) on a small pool of their own; the listener holds one
 * dedicated connection (LISTEN cannot share a pooled one). When that connection is lost (the
 * database restarted, the backend was terminated, the network broke) the listener reconnects
 * with capped backoff and jitter, LISTENs again, and only then asks for a full resync, so no
 * change falls between the resync's reads and the new LISTEN.
 *
 * Cost: one statement per batch of changes on the announcing replica, none per alive message;
 * listeners read only what their watchers need (cluster-feed.ts).
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { decodeChanges, encodeChanges, type Change, type ChangeBus, type ChangeListener } from '../../cluster/change-bus.js';

/** The NOTIFY channel of hub replicas. */
export const CHANGE_CHANNEL = 'hapi_changes';

/** Changes held while the database is away before the oldest are dropped (and a resync covers them on the others). */
const MAX_HELD = 50_000;

export interface PgChangeBusOptions {
  url: string;
  replicaId: string;
  log: Logger;
  /** First delay before the listener reconnects (doubling up to 10 s, with jitter). */
  retryMs?: number;
}

export function createPgChangeBus(opts: PgChangeBusOptions): ChangeBus {
  const { url, replicaId } = opts;
  const log = opts.log.child({ c: 'change-bus' });
  const retryMs = opts.retryMs ?? 500;
  // Announcements only: two connections are plenty for one statement per batch.
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: `hapi notify ${process.pid} ${replicaId}` });
  pool.on('error', (err) => log.warn({ err }, 'an idle notify connection failed; the pool replaces it'));
  let queued: Change[] = [];
  let sending: Promise<void> | undefined;
  let flushTimer: NodeJS.Timeout | undefined;
  let sendFailures = 0;
  let client: pg.Client | undefined;
  let listener: ChangeListener | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let closed = false;

  function flushSoon(delayMs = 0): void {
    if (flushTimer || sending || closed) return;
    flushTimer = setTimeout(() => {
      flushTimer = undefined;
      void flush();
    }, delayMs);
    if (delayMs > 0) flushTimer.unref();
  }

  async function flush(): Promise<void> {
    if (sending || queued.length === 0) return;
    const batch = queued;
    queued = [];
    sending = (async () => {
      try {
        for (const payload of encodeChanges(replicaId, batch)) await pool.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, payload]);
        sendFailures = 0;
      } catch (err) {
        // Kept and retried: the others' watchers miss nothing they could read meanwhile anyway.
        sendFailures++;
        queued = [...batch, ...queued].slice(-MAX_HELD);
        if (sendFailures === 1 || sendFailures % 20 === 0) log.warn({ err, held: queued.length }, 'could not announce changes to the other replicas; retrying');
      }
    })();
    await sending;
    sending = undefined;
    if (queued.length > 0 && !closed) flushSoon(sendFailures > 0 ? Math.min(5_000, retryMs * 2 ** Math.min(sendFailures, 4)) : 0);
  }

  function onNotification(msg: pg.Notification): void {
    if (msg.channel !== CHANGE_CHANNEL || !msg.payload) return;
    const decoded = decodeChanges(msg.payload);
    if (!decoded) {
      log.warn({ bytes: msg.payload.length }, 'ignored a malformed change announcement');
      return;
    }
    if (decoded.replicaId === replicaId || decoded.changes.length === 0) return;
    listener?.changed(decoded.changes);
  }

  /** Connects and LISTENs; throws when it cannot. */
  async function connect(): Promise<void> {
    const c = new pg.Client({ connectionString: url, application_name: `hapi listen ${process.pid} ${replicaId}`, keepAlive: true });
    c.on('notification', onNotification);
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c, new Error('connection ended')));
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (err) {
      c.removeAllListeners('end');
      c.on('error', () => undefined);
      await c.end().catch(() => undefined);
      throw err;
    }
    client = c;
  }

  function lost(c: pg.Client, err: Error): void {
    if (client !== c) return;
    client = undefined;
    c.on('error', () => undefined);
    void c.end().catch(() => undefined);
    if (closed) return;
    log.warn({ err }, 'lost the change listener connection; reconnecting, then resyncing from the tables');
    reconnect(1);
  }

  function reconnect(attempt: number): void {
    const base = Math.min(10_000, retryMs * 2 ** (attempt - 1));
    const delay = base / 2 + Math.random() * (base / 2);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (closed) return;
      connect().then(
        () => {
          if (closed) {
            void client?.end().catch(() => undefined);
            return;
          }
          log.info({ attempt }, 'change listener reconnected');
          listener?.resync();
        },
        (err: unknown) => {
          if (attempt === 1 || attempt % 10 === 0) log.warn({ err, attempt }, 'change listener cannot reconnect yet');
          reconnect(attempt + 1);
        },
      );
    }, delay);
  }

  return {
    replicaId,
    announce(change) {
      if (closed) return;
      queued.push(change);
      if (queued.length > MAX_HELD) queued.splice(0, queued.length - MAX_HELD);
      flushSoon();
    },
    async listen(l) {
      if (listener) throw new Error('the change bus has a listener already');
      listener = l;
      await connect();
    },
    async close() {
      if (closed) return;
      // Closed first: nothing is rescheduled; what is queued goes out once more.
      closed = true;
      clearTimeout(flushTimer);
      flushTimer = undefined;
      await sending;
      await flush().catch(() => undefined);
      clearTimeout(reconnectTimer);
      const c = client;
      client = undefined;
      if (c) {
        c.removeAllListeners('end');
        c.on('error', () => undefined);
        await c.end().catch(() => undefined);
      }
      await pool.end().catch(() => undefined);
    },
  };
}
