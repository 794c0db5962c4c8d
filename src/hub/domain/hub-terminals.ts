/**
 * Session terminals through the hub: viewers attached to a machine's sessions (each a
 * viewer-relay.ts over an attach stream the runner opens on request, attach-streams.ts), and
 * the runner-opened attach streams themselves, checked against the link they name. HubCore
 * checks scopes and namespaces first and delegates here.
 */
import { ATTACH_STREAM_CAPABILITY } from '../../contract/machine-link.js';
import type { AttachHello } from '../../contract/session-types.js';
import { FailedPreconditionError, UnavailableError, type HapiError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { AttachStreamFeed, AttachStreamSink, Upstream, UpstreamHandlers } from './attach-streams.js';
import type { Presence } from './presence.js';
import { createViewerRelay, type ViewerRelay } from './viewer-relay.js';

/** How long the hub waits for a runner to open an attach stream it asked for. */
export const ATTACH_OPEN_TIMEOUT_MS = 10_000;

export interface HubTerminalsOptions {
  presence: Presence;
  log: Logger;
  viewerBufferBytes: number;
  attachResumeMs: number;
  /**
   * Several replicas: an upstream through the replica that holds the machine's stream, when this
   * one does not (src/hub/cluster/); undefined when none does. The relay's buffer and resume stay here.
   */
  remoteUpstream?(namespace: string, machineId: string, sessionId: string, hello: AttachHello, handlers: UpstreamHandlers, signal: AbortSignal): Promise<Upstream | undefined>;
}

/** What an attach stream's first message names. */
export interface AttachStreamOpenInfo {
  machineId: string;
  linkId: string;
  attachId: string;
}

export interface HubTerminals {
  /**
   * A viewer of `sessionId` on `machineId`. The caller checks scope and namespace; `allowed`
   * is that namespace check (a store read): nothing is asked of a runner before it resolves,
   * and the relay ends with its error when it rejects.
   */
  attach(machineId: string, sessionId: string, hello: AttachHello, allowed?: Promise<void>, namespace?: string): ViewerRelay;
  /** A runner opened an attach stream on `namespace`'s link. FailedPrecondition: not the live link, or not asked for. */
  accept(namespace: string, open: AttachStreamOpenInfo, sink: AttachStreamSink): AttachStreamFeed;
  readonly viewers: number;
  /** Someone has this session's terminal open through the hub now (the notifier stays quiet). */
  isViewing(machineId: string, sessionId: string): boolean;
  /** Ends every viewer with `err` (the hub is shutting down). */
  close(err: HapiError): void;
}

export function createHubTerminals(o: HubTerminalsOptions): HubTerminals {
  const log = o.log.child({ c: 'hub-terminals' });
  const relays = new Set<ViewerRelay>();
  /** Open viewers per `machineId\0sessionId`. */
  const perSession = new Map<string, number>();
  const keyOf = (machineId: string, sessionId: string) => `${machineId}\0${sessionId}`;
  let closedWith: HapiError | undefined;

  return {
    attach(machineId, sessionId, hello, allowed, namespace) {
      const relay = createViewerRelay({
        hello,
        bufferBytes: o.viewerBufferBytes,
        resumeMs: o.attachResumeMs,
        log: log.child({ machineId, sessionId }),
        async openUpstream(h, handlers, signal) {
          await allowed;
          if (closedWith) throw closedWith;
          const conn = o.presence.get(machineId);
          if (!conn || conn.detached) {
            const remote = namespace !== undefined ? await o.remoteUpstream?.(namespace, machineId, sessionId, h, handlers, signal) : undefined;
            if (remote) return remote;
            throw new UnavailableError(`machine ${machineId} is offline`);
          }
          if (!conn.capabilities.includes(ATTACH_STREAM_CAPABILITY)) {
            throw new FailedPreconditionError(`the runner of machine ${machineId} is too old to attach through the hub; update hapi there`);
          }
          return conn.attaches.request(
            handlers,
            (attachId) => conn.sink.send({ type: 'open-attach', attachId, sessionId, hello: h }),
            ATTACH_OPEN_TIMEOUT_MS,
            signal,
          );
        },
      });
      relays.add(relay);
      const key = keyOf(machineId, sessionId);
      perSession.set(key, (perSession.get(key) ?? 0) + 1);
      // Transports always close the relay when the viewer's stream ends: it is forgotten then.
      const close = relay.close;
      relay.close = (err) => {
        if (relays.delete(relay)) {
          const n = (perSession.get(key) ?? 1) - 1;
          if (n > 0) perSession.set(key, n);
          else perSession.delete(key);
        }
        close(err);
      };
      if (closedWith) relay.close(closedWith);
      return relay;
    },

    accept(namespace, open, sink) {
      const conn = o.presence.get(open.machineId);
      if (!conn || conn.detached || conn.namespace !== namespace || conn.linkId !== open.linkId) {
        throw new FailedPreconditionError(`link ${open.linkId} is not the live link of machine ${open.machineId}`);
      }
      return conn.attaches.accept(open.attachId, sink);
    },

    get viewers() {
      return relays.size;
    },

    isViewing: (machineId, sessionId) => perSession.has(keyOf(machineId, sessionId)),

    close(err) {
      closedWith ??= err;
      for (const r of [...relays]) r.close(err);
    },
  };
}
