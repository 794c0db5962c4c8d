/**
 * The attach streams of one runner link (MachineService.AttachStream): the hub asks the runner
 * to open one (OpenAttach on Connect), the runner opens it naming the link and the attach id,
 * and the hub hands it to the viewer relay that asked. Each belongs to the link it was asked
 * for on: an id is accepted once, only on that link, and every stream still open when the
 * link ends is ended with it, so an attach stream never outlives its link.
 */
import { randomUUID } from 'node:crypto';
import type { ViewerEvent, ViewerMessage } from '../../contract/session-types.js';
import { AbortedError, FailedPreconditionError, UnavailableError, type HapiError } from '../../shared/errors.js';

/** What the relay hears from one upstream attach. */
export interface UpstreamHandlers {
  event(e: ViewerEvent): void;
  /** The stream ended: no error after `exited` (or a clean close), else why. */
  end(err?: HapiError): void;
}

/** The relay's handle on one open upstream attach. */
export interface Upstream {
  /** A viewer's input, resize or ack, down to the runner. */
  send(m: ViewerMessage): void;
  /** The hub is done with it (the viewer went, or it wants a fresh snapshot). Idempotent. */
  close(): void;
}

/** The transport side of a runner-opened attach stream: what the hub sends down it. */
export interface AttachStreamSink {
  send(m: ViewerMessage): void;
  /** Ends the stream: OK without an error. */
  close(err?: HapiError): void;
}

/** What the transport feeds with what the runner sends on the stream. */
export interface AttachStreamFeed {
  event(e: ViewerEvent): void;
  end(err?: HapiError): void;
}

export interface AttachStreams {
  /**
   * Asks the runner (through `transmit`, which sends OpenAttach with the id) to open a stream,
   * and resolves once it has. Unavailable when it does not within `timeoutMs` or the link ends.
   */
  request(handlers: UpstreamHandlers, transmit: (attachId: string) => void, timeoutMs: number, signal?: AbortSignal): Promise<Upstream>;
  /** The runner opened the stream for `attachId`. FailedPrecondition: not asked for on this link, opened already, or timed out. */
  accept(attachId: string, sink: AttachStreamSink): AttachStreamFeed;
  /** The link ended: every waiting request fails and every open stream ends with `err`. */
  closeAll(err: HapiError): void;
  readonly size: number;
}

interface Waiting {
  handlers: UpstreamHandlers;
  resolve(u: Upstream): void;
  reject(e: HapiError): void;
}

export function createAttachStreams(): AttachStreams {
  const waiting = new Map<string, Waiting>();
  const open = new Map<string, { sink: AttachStreamSink; handlers: UpstreamHandlers }>();
  let closedWith: HapiError | undefined;

  return {
    request(handlers, transmit, timeoutMs, signal) {
      if (closedWith) return Promise.reject(closedWith);
      signal?.throwIfAborted();
      const attachId = randomUUID();
      return new Promise<Upstream>((resolve, reject) => {
        const onAbort = () => settle(() => reject(new AbortedError('the viewer went away')));
        const timer = setTimeout(() => settle(() => reject(new UnavailableError(`the runner did not open the attach within ${timeoutMs} ms`))), timeoutMs);
        const settle = (fn: () => void) => {
          if (!waiting.delete(attachId)) return;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          fn();
        };
        waiting.set(attachId, { handlers, resolve: (u) => settle(() => resolve(u)), reject: (e) => settle(() => reject(e)) });
        signal?.addEventListener('abort', onAbort, { once: true });
        transmit(attachId);
      });
    },

    accept(attachId, sink) {
      const w = waiting.get(attachId);
      if (!w) throw new FailedPreconditionError('no such attach waiting on this link (unknown, opened already, or timed out)');
      const entry = { sink, handlers: w.handlers };
      let done = false;
      open.set(attachId, entry);
      const finish = () => {
        if (done) return false;
        done = true;
        open.delete(attachId);
        return true;
      };
      w.resolve({
        send: (m) => {
          if (!done) sink.send(m);
        },
        close: () => {
          if (finish()) sink.close();
        },
      });
      // Ended by closeAll: the entry is gone from `open` but `done` must follow.
      entry.handlers = {
        event: (e) => {
          if (!done) w.handlers.event(e);
        },
        end: (err) => {
          if (finish()) w.handlers.end(err);
        },
      };
      return entry.handlers;
    },

    closeAll(err) {
      closedWith ??= err;
      for (const w of [...waiting.values()]) w.reject(err);
      for (const { sink, handlers } of [...open.values()]) {
        sink.close(err);
        handlers.end(err);
      }
      open.clear();
    },

    get size() {
      return waiting.size + open.size;
    },
  };
}
