/**
 * A fake Telegram Bot API server of the tests' own (node:http on 127.0.0.1): records every call
 * (`/bot<token>/<method>` with its JSON body), answers sendMessage with a message id, and serves
 * getUpdates as Telegram does (long polling from `offset`, waiting up to `timeout` seconds) with
 * the updates a test queues. Nothing reaches Telegram.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BotCall {
  token: string;
  method: string;
  body: Record<string, unknown>;
  at: number;
}

export interface FakeTelegram {
  url: string;
  calls: BotCall[];
  callsOf(method: string): BotCall[];
  /** Queues an update for getUpdates (update_id assigned). */
  pushUpdate(update: Record<string, unknown>): void;
  /** Called on every recorded call (benchmarks). */
  onCall?: (c: BotCall) => void;
  close(): Promise<void>;
}

export async function startFakeTelegram(): Promise<FakeTelegram> {
  const updates: Record<string, unknown>[] = [];
  let nextUpdateId = 1000;
  let nextMessageId = 1;
  const waiters = new Set<() => void>();
  const fake: FakeTelegram = {
    url: '',
    calls: [],
    callsOf: (method) => fake.calls.filter((c) => c.method === method),
    pushUpdate(update) {
      updates.push({ update_id: nextUpdateId++, ...update });
      for (const w of [...waiters]) w();
    },
    close: () => new Promise<void>((r) => {
      for (const w of [...waiters]) w();
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const m = /^\/bot([^/]+)\/(\w+)$/.exec(req.url ?? '');
      const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (!m || req.method !== 'POST') return reply(404, { ok: false, error_code: 404, description: 'Not Found' });
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      const call: BotCall = { token: m[1]!, method: m[2]!, body, at: performance.now() };
      fake.calls.push(call);
      fake.onCall?.(call);
      if (call.method === 'sendMessage') return reply(200, { ok: true, result: { message_id: nextMessageId++, chat: { id: body.chat_id }, text: body.text } });
      if (call.method !== 'getUpdates') return reply(200, { ok: true, result: true });
      const offset = typeof body.offset === 'number' ? body.offset : 0;
      const ready = () => updates.filter((u) => (u.update_id as number) >= offset);
      if (ready().length > 0) return reply(200, { ok: true, result: ready() });
      const timer = setTimeout(done, Math.min(Number(body.timeout ?? 0), 30) * 1000);
      function done() {
        clearTimeout(timer);
        waiters.delete(done);
        if (!res.writableEnded) reply(200, { ok: true, result: ready() });
      }
      waiters.add(done);
      res.on('close', () => waiters.delete(done));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
