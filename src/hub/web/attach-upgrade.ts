/**
 * The WebSocket half of the web layer: upgrades `/api/v1/machines/{m}/sessions/{s}/attach` to a
 * terminal viewer (attach-socket.ts speaks the protocol). Checks before the upgrade: the path,
 * and the Origin (cross-site WebSocket hijacking: a browser sends the page's Origin, a foreign
 * one is refused with 403; a tool with a bearer token and no Origin carries no ambient
 * credential). Who the socket acts for (ticket, cookie or token) is the web layer's answer.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../shared/logger.js';
import { checkOrigin } from './http-security.js';
import { CLOSE, refuse, serveAttachSocket, type AttachBackend } from './attach-socket.js';

const ATTACH_PATH = /^\/api\/v1\/machines\/([^/]+)\/sessions\/([^/]+)\/attach$/;

export interface AttachUpgradeOptions<C> {
  /** The hub's side of one viewer; without it every upgrade answers 404. */
  attach?: (caller: C, machineId: string, sessionId: string) => AttachBackend;
  /** Who the upgrade acts for; rejects (Unauthenticated...) to end the socket with its close code. */
  callerOf: (req: IncomingMessage, machineId: string, sessionId: string) => Promise<C>;
  originPolicy: { allowedOrigins: readonly string[] };
  /** ws.bufferedAmount past which a viewer's backlog is dropped for a fresh snapshot. */
  sendBufferBytes: number;
  log: Logger;
}

export interface AttachUpgrade {
  /** node:http's `upgrade` listener. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** The hub restarts or stops: viewers are closed with CLOSE.hubRestart and come back with their offset. */
  close(): void;
}

export function createAttachUpgrade<C>(o: AttachUpgradeOptions<C>): AttachUpgrade {
  // Input frames are at most a paste; output only goes down.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, perMessageDeflate: false });
  const sockets = new Set<WebSocket>();

  function reject(socket: Duplex, status: number, text: string): void {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
  }

  return {
    upgrade(req, socket, head) {
      socket.on('error', () => socket.destroy());
      const m = ATTACH_PATH.exec(pathOf(req.url));
      if (!m || !o.attach) return reject(socket, 404, 'Not Found');
      let machineId: string;
      let sessionId: string;
      try {
        machineId = decodeURIComponent(m[1]!);
        sessionId = decodeURIComponent(m[2]!);
      } catch {
        return reject(socket, 400, 'Bad Request');
      }
      if (req.headers.origin !== undefined || req.headers.authorization === undefined) {
        const why = checkOrigin(req, o.originPolicy);
        if (why) {
          o.log.info({ origin: req.headers.origin, why }, 'attach upgrade refused');
          return reject(socket, 403, 'Forbidden');
        }
      }
      const attach = o.attach;
      wss.handleUpgrade(req, socket, head, (ws) => {
        sockets.add(ws);
        ws.on('close', () => sockets.delete(ws));
        o.callerOf(req, machineId, sessionId).then(
          (caller) => {
            if (ws.readyState !== ws.OPEN) return;
            try {
              serveAttachSocket(ws, attach(caller, machineId, sessionId), { sendBufferBytes: o.sendBufferBytes, log: o.log });
            } catch (err) {
              refuse(ws, err);
            }
          },
          (err: unknown) => refuse(ws, err),
        );
      });
    },
    close() {
      for (const ws of sockets) ws.close(CLOSE.hubRestart, 'hub restart');
      sockets.clear();
    },
  };
}

/** The path of a request URL ('/' when it cannot be parsed). */
export function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://hub').pathname;
  } catch {
    return '/';
  }
}
