// A stand-in for the hub's attach WebSocket endpoint, for the page's browser tests while the
// hub's own endpoint is built in parallel: a same-origin front for the real hub (every HTTP
// request is passed to the hub unchanged, the page's cookie sign-in included) that answers
// `GET /api/v1/machines/{m}/sessions/{s}/attach` upgrades itself, speaking the agreed protocol
// (README, "The attach WebSocket") and bridging to the session's own socket (SessionService
// Attach, SendInput for the composer). The sign-in and its scope are the hub's (/auth/session
// with the page's cookie): a read-only sign-in is attached read-only and its input refused.
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { SessionServiceDefinition } from '../src/contract/session.js';
import type { ViewerMessage } from '../src/contract/session-types.js';
import { attachTerminal } from '../src/runner/terminals/session-link.js';
import { createUnaryClient } from '../src/shared/grpc-unary-client.js';

export interface AttachBridge {
  /** The page's origin: open this, not the hub. */
  url: string;
  /** Every hello received, in order (with the mode the bridge applied). */
  hellos: { sessionId: string; mode: string; lastOffset?: string; cols: number; rows: number }[];
  /** Input frames refused because the viewer is read-only. */
  refusedInputs: number;
  /** Ends every open attach with `code` (1012: as a hub restart would). */
  dropAll(code: number, reason?: string): void;
  openCount(): number;
  close(): Promise<void>;
}

/** A queue that is also the message stream of one Attach call. */
function messageQueue() {
  const items: ViewerMessage[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  return {
    push(m: ViewerMessage) {
      items.push(m);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (items.length > 0) yield items.shift()!;
        if (ended) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    },
  };
}

const text = (ws: WebSocket, msg: unknown) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(msg));

export async function startAttachBridge(opts: { hubUrl: string; socketFor: (machineId: string, sessionId: string) => string | undefined }): Promise<AttachBridge> {
  const hub = new URL(opts.hubUrl);
  const open = new Set<WebSocket>();
  const bridge: AttachBridge = {
    url: '',
    hellos: [],
    refusedInputs: 0,
    dropAll(code, reason = 'hub restarting') {
      for (const ws of open) ws.close(code, reason);
    },
    openCount: () => open.size,
    close: async () => {},
  };

  const server = createServer((req, res) => {
    const up = request({ host: hub.hostname, port: hub.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  const wss = new WebSocketServer({ noServer: true });

  async function scopeOf(req: IncomingMessage): Promise<string | undefined> {
    const res = await fetch(new URL('/auth/session', hub), { headers: { cookie: req.headers.cookie ?? '', host: req.headers.host ?? '' } });
    if (!res.ok) return undefined;
    return String(((await res.json()) as { scope?: string }).scope ?? 'TOKEN_SCOPE_FULL');
  }

  server.on('upgrade', (req, socket, head) => {
    const m = /^\/api\/v1\/machines\/([^/]+)\/sessions\/([^/?]+)\/attach(?:\?.*)?$/.exec(req.url ?? '');
    if (!m) return void socket.destroy();
    const [machineId, sessionId] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
    void scopeOf(req).then(
      (scope) => wss.handleUpgrade(req, socket, head, (ws) => serve(ws, machineId, sessionId, scope)),
      () => socket.destroy(),
    );
  });

  function serve(ws: WebSocket, machineId: string, sessionId: string, scope: string | undefined): void {
    if (!scope) return void ws.close(4401, 'not signed in');
    const path = opts.socketFor(machineId, sessionId);
    if (!path) {
      text(ws, { type: 'error', code: 'NOT_FOUND', message: `no session ${sessionId}` });
      return void ws.close(4404, 'unknown session');
    }
    open.add(ws);
    const ac = new AbortController();
    const queue = messageQueue();
    let readOnly = true;
    let started = false;
    ws.on('close', () => {
      open.delete(ws);
      ac.abort();
      queue.end();
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]);
      if (!started) {
        const hello = JSON.parse(bytes.toString('utf8')) as { type: string; mode: string; cols: number; rows: number; lastOffset?: string };
        readOnly = hello.mode !== 'interactive' || scope === 'TOKEN_SCOPE_READ_ONLY';
        const mode = readOnly ? 'read-only' : 'interactive';
        bridge.hellos.push({ sessionId, mode, lastOffset: hello.lastOffset, cols: hello.cols, rows: hello.rows });
        started = true;
        queue.push({ kind: 'hello', hello: { mode, size: { cols: hello.cols, rows: hello.rows }, lastOffset: hello.lastOffset === undefined ? undefined : Number(hello.lastOffset) } });
        void pump();
        return;
      }
      const msg = isBinary ? undefined : (JSON.parse(bytes.toString('utf8')) as { type: string; text?: string; paste?: boolean; enter?: boolean; cols?: number; rows?: number });
      if (msg?.type === 'resize') {
        if (!readOnly) queue.push({ kind: 'resize', size: { cols: msg.cols!, rows: msg.rows! } });
        return;
      }
      if (readOnly) {
        bridge.refusedInputs += 1;
        return void text(ws, { type: 'error', code: 'PERMISSION_DENIED', message: 'this view is read-only' });
      }
      if (isBinary) return void queue.push({ kind: 'input', data: bytes });
      if (msg?.type === 'input') {
        const { client, channel } = createUnaryClient(SessionServiceDefinition, path);
        const request = msg.paste ? { text: msg.text ?? '', enter: Boolean(msg.enter) } : { data: Buffer.from(msg.text ?? ''), enter: Boolean(msg.enter) };
        void client.sendInput(request).finally(() => channel.close());
      }
    });

    async function pump(): Promise<void> {
      try {
        for await (const ev of attachTerminal(path!, queue, ac.signal)) {
          if (ev.kind === 'snapshot') {
            const s = ev.snapshot;
            text(ws, { type: 'snapshot', screen: s.ansi, cols: s.cols, rows: s.rows, cursor: s.cursor, offset: String(s.offset) });
          } else if (ev.kind === 'output') {
            const frame = Buffer.alloc(8 + ev.data.length);
            frame.writeBigUInt64BE(BigInt(ev.offset));
            ev.data.copy(frame, 8);
            if (ws.readyState === ws.OPEN) ws.send(frame);
            queue.push({ kind: 'ack', offset: ev.offset + ev.data.length });
          } else {
            text(ws, { type: 'exited', exitCode: ev.status.exitCode ?? null, exitSignal: ev.status.exitSignal ?? null });
            ws.close(1000, 'exited');
            return;
          }
        }
      } catch (err) {
        text(ws, { type: 'error', code: 'UNAVAILABLE', message: err instanceof Error ? err.message : String(err) });
        ws.close(1011, 'session unreachable');
      }
    }
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  bridge.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  bridge.close = async () => {
    for (const ws of open) ws.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return bridge;
}
