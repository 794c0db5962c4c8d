/**
 * The runner's side of attaching through the hub: when the hub asks on the link (OpenAttach),
 * the runner opens MachineService.AttachStream naming the link and the attach
 * (attach-upstream.ts, on that link's own connection), and proxies it to the runner's own
 * AttachSession (RunnerControl, exactly as a local viewer's): the session's answers go up as
 * the session encoded them, the viewer's input, resizes and acks come down.
 *
 * Backpressure is the transports': the session's answers are read as long as the hub's stream
 * takes them; while it does not (write() said wait), they wait here, contiguous output joined
 * into one message (attach-coalesce.ts), up to PENDING_BYTES; past that the session is no longer
 * read, so a slow stream holds back only itself (the session drops its backlog for a snapshot
 * past its window). Every stream asked for on a link is ended when that link ends: it would be
 * refused anyway.
 */
import type { Logger } from 'pino';
import type { OpenAttachInfo } from '../../contract/machine-link.js';
import { attachStreamMessageFromProto } from '../../contract/machine-link.js';
import { attachStreamRequestBytes } from '../../contract/attach-passthrough.js';
import { createOutputCoalescer } from '../../contract/attach-coalesce.js';
import { clipText } from '../../contract/limits.js';
import type { ViewerMessage } from '../../contract/session-types.js';
import { createAsyncQueue } from '../../shared/async-queue.js';
import { isHapiError } from '../../shared/errors.js';
import { grpcFrame } from '../../shared/grpc-wire.js';
import { grpcStatusOf } from '../../shared/grpc-errors.js';
import type { RunnerControl } from '../runner-control.js';
import type { AttachUpstreams, UpstreamCall } from './attach-upstream.js';

/**
 * Output joined into one message while the hub's stream is busy, at most: no more than a session
 * itself sends at once (64 KiB), which is also the least a hub may keep for a viewer
 * (HAPI_HUB_VIEWER_BUFFER_BYTES), so one joined message never makes a viewer look behind.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** What waits for the hub's stream before the session is no longer read. */
export const PENDING_BYTES = 1024 * 1024;

export interface AttachOpenerOptions {
  control: RunnerControl;
  upstreams: AttachUpstreams;
  /** The hub address the link with this id is connected to. */
  hubUrl: () => string;
  machineId: string;
  log: Logger;
}

export interface AttachOpener {
  /** The hub asked on link `linkId` for `req`: open the stream and proxy it until either side ends. */
  open(linkId: string, req: OpenAttachInfo): void;
  /** The link ended: end the streams it asked for, and its connection. */
  closeLink(linkId: string): void;
  readonly size: number;
}

/**
 * Sends the session's answers (`answers`, encoded AttachResponses) up `call` in order, joining
 * contiguous output while the stream is busy; resolves when `answers` ends. Exported for tests.
 */
export async function pumpAnswers(answers: AsyncIterable<Uint8Array>, call: Pick<UpstreamCall, 'write' | 'drained'>, signal: AbortSignal): Promise<void> {
  const pending = createOutputCoalescer(MAX_MESSAGE_BYTES);
  let busy = false;
  let writing: Promise<void> = Promise.resolve();
  let failed: unknown;
  /** Writes what waits while the stream takes it; waits for 'drain' (and goes on) when it does not. */
  const flush = async (): Promise<void> => {
    busy = true;
    try {
      for (let frame = pending.take(); frame; frame = pending.take()) {
        if (signal.aborted) return;
        if (!call.write(frame)) await call.drained();
      }
    } catch (err) {
      failed = err;
    } finally {
      busy = false;
    }
  };
  const kick = () => {
    if (!busy) writing = flush();
  };
  for await (const answer of answers) {
    if (signal.aborted) break;
    pending.push(answer);
    kick();
    // The hub's stream is behind: stop reading the session until it caught up.
    if (pending.bytes >= PENDING_BYTES) await writing;
    if (failed) throw failed;
  }
  while (busy || pending.length > 0) {
    kick();
    await writing;
    if (failed || signal.aborted) break;
  }
  if (failed) throw failed;
}

export function createAttachOpener(o: AttachOpenerOptions): AttachOpener {
  const log = o.log.child({ c: 'attach-opener' });
  const byLink = new Map<string, Set<AbortController>>();

  async function run(linkId: string, req: OpenAttachInfo, abort: AbortController): Promise<void> {
    const down = createAsyncQueue<ViewerMessage>({ limit: 10_000, signal: abort.signal });
    const { control, machineId } = o;
    const call = o.upstreams.open(linkId, o.hubUrl());
    const onAbort = () => call.cancel();
    abort.signal.addEventListener('abort', onAbort, { once: true });
    const up = async () => {
      call.write(grpcFrame(attachStreamRequestBytes({ message: { $case: 'open', value: { machineId, linkId, attachId: req.attachId } } })));
      try {
        // The session's answers go up as it encoded them: no decode and encode again here.
        await pumpAnswers(await control.attachSessionEncoded(req.sessionId, req.hello, down, abort.signal), call, abort.signal);
      } catch (err) {
        if (abort.signal.aborted) return;
        const known = isHapiError(err);
        if (!known) log.error({ err, sessionId: req.sessionId }, 'attach through the hub failed unexpectedly');
        const code = grpcStatusOf(known ? err.kind : 'Internal');
        call.write(grpcFrame(attachStreamRequestBytes({ message: { $case: 'error', value: { code, message: known ? clipText(err.message, 4096) : 'internal error' } } })));
      }
      call.end();
    };
    void up();
    try {
      for await (const r of call.messages) {
        try {
          down.push(attachStreamMessageFromProto(r));
        } catch (err) {
          log.warn({ err }, 'dropped a malformed message on an attach stream');
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) log.debug({ err, sessionId: req.sessionId }, 'attach stream ended with an error');
    } finally {
      // The hub is done (or gone): detach from the session.
      abort.signal.removeEventListener('abort', onAbort);
      abort.abort();
      call.cancel();
      down.end();
    }
  }

  return {
    open(linkId, req) {
      const abort = new AbortController();
      let set = byLink.get(linkId);
      if (!set) byLink.set(linkId, (set = new Set()));
      set.add(abort);
      void run(linkId, req, abort).finally(() => {
        set.delete(abort);
        if (set.size === 0 && byLink.get(linkId) === set) byLink.delete(linkId);
      });
    },
    closeLink(linkId) {
      for (const a of byLink.get(linkId) ?? []) a.abort();
      byLink.delete(linkId);
      o.upstreams.closeLink(linkId);
    },
    get size() {
      let n = 0;
      for (const s of byLink.values()) n += s.size;
      return n;
    },
  };
}
