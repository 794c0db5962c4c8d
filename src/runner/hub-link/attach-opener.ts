/**
 * The runner's side of attaching through the hub: when the hub asks on the link (OpenAttach),
 * the runner opens MachineService.AttachStream naming the link and the attach, and proxies it
 * to the runner's own AttachSession (RunnerControl, exactly as a local viewer's): the session's
 * answers go up as the session encoded them (contract/attach-passthrough.ts), the viewer's
 * input, resizes and acks come down. Backpressure is the
 * transport's: the session's answers are read only as fast as the hub takes them, so a slow
 * stream holds back only itself (the session drops its backlog for a snapshot past its window).
 * Every stream asked for on a link is ended when that link ends: it would be refused anyway.
 */
import type { Logger } from 'pino';
import type { Metadata } from 'nice-grpc';
import { attachStreamMessageFromProto, type AttachStreamResponse, type OpenAttachInfo } from '../../contract/machine-link.js';
import { attachStreamRequestBytes, attachStreamResponseBytes } from '../../contract/attach-passthrough.js';
import { clipText } from '../../contract/limits.js';
import type { ViewerMessage } from '../../contract/session-types.js';
import { createAsyncQueue } from '../../shared/async-queue.js';
import { isHapiError } from '../../shared/errors.js';
import { grpcStatusOf } from '../../shared/grpc-errors.js';
import type { RunnerControl } from '../runner-control.js';

/** The one call the opener needs from a MachineService client. */
export interface AttachStreamClient {
  /** Requests go as encoded AttachStreamRequest bytes (AttachStreamPassthroughDefinition). */
  attachStream(requests: AsyncIterable<Uint8Array>, options: { metadata: Metadata; signal: AbortSignal }): AsyncIterable<AttachStreamResponse>;
}

export interface AttachOpenerOptions {
  control: RunnerControl;
  client: AttachStreamClient;
  metadata: Metadata;
  machineId: string;
  log: Logger;
}

export interface AttachOpener {
  /** The hub asked on link `linkId` for `req`: open the stream and proxy it until either side ends. */
  open(linkId: string, req: OpenAttachInfo): void;
  /** The link ended: end the streams it asked for. */
  closeLink(linkId: string): void;
  readonly size: number;
}

export function createAttachOpener(o: AttachOpenerOptions): AttachOpener {
  const log = o.log.child({ c: 'attach-opener' });
  const byLink = new Map<string, Set<AbortController>>();

  async function run(linkId: string, req: OpenAttachInfo, abort: AbortController): Promise<void> {
    const down = createAsyncQueue<ViewerMessage>({ limit: 10_000, signal: abort.signal });
    const { control, machineId } = o;
    async function* up(): AsyncIterable<Uint8Array> {
      yield attachStreamRequestBytes({ message: { $case: 'open', value: { machineId, linkId, attachId: req.attachId } } });
      try {
        // The session's answers go up as it encoded them: no decode and encode again here.
        for await (const bytes of await control.attachSessionEncoded(req.sessionId, req.hello, down, abort.signal)) yield attachStreamResponseBytes(bytes);
      } catch (err) {
        if (abort.signal.aborted) return;
        const known = isHapiError(err);
        if (!known) log.error({ err, sessionId: req.sessionId }, 'attach through the hub failed unexpectedly');
        const code = grpcStatusOf(known ? err.kind : 'Internal');
        yield attachStreamRequestBytes({ message: { $case: 'error', value: { code, message: known ? clipText(err.message, 4096) : 'internal error' } } });
      }
    }
    try {
      for await (const r of o.client.attachStream(up(), { metadata: o.metadata, signal: abort.signal })) {
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
      abort.abort();
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
    },
    get size() {
      let n = 0;
      for (const s of byLink.values()) n += s.size;
      return n;
    },
  };
}
