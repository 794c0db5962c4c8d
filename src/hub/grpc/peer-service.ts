/**
 * PeerService (proto/hapi/hub/peer/v1/peer.proto) both ways: the server the other replicas call
 * on this replica's peer port, guarded by the cluster secret, and the client this replica calls
 * them with (the PeerDialer of src/hub/cluster/cluster-ports.ts). Runner and client tokens open
 * nothing here: only the `x-hapi-cluster-secret` metadata is looked at, compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ChannelCredentials, createChannel, createClient, Metadata, ServerError, Status, type CallContext, type Channel, type ServerMiddlewareCall } from 'nice-grpc';
import {
  CLUSTER_SECRET_HEADER,
  peerAttachEventFromProto,
  peerAttachEventToProto,
  peerAttachMessageFromProto,
  peerAttachMessageToProto,
  peerAttachOpenFromProto,
  peerAttachOpenToProto,
  PEER_ATTACH_OPENED,
  type PeerAttachRequest,
  type PeerAttachResponse,
  PeerServiceDefinition,
  peerRelayFromProto,
  peerRelayToProto,
  peerResultFromProto,
  peerResultToProto,
  type PeerServiceImplementation,
} from '../../contract/peer.js';
import { fromClientError, toServerError } from '../../shared/grpc-errors.js';
import { AbortedError, DeadlineExceededError, HapiError, isHapiError, UnavailableError } from '../../shared/errors.js';
import { createAsyncQueue } from '../../shared/async-queue.js';
import type { Upstream } from '../domain/attach-streams.js';
import type { HubCore } from '../domain/hub-core.js';
import type { PeerDialer } from '../cluster/cluster-ports.js';

/** The one message for every refused peer call: it says nothing about why. */
export const PEER_UNAUTHENTICATED = 'missing or invalid cluster secret';

/** Messages buffered toward the calling replica before the pipe is considered stuck. */
const OUTBOUND_LIMIT = 10_000;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** True when `given` is the secret; constant time whatever either's length (both are hashed first). */
export function secretMatches(secret: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  return timingSafeEqual(digest(secret), digest(given));
}

/** Server middleware: every call needs the cluster secret. */
export function peerAuthMiddleware(secret: string) {
  return async function* peerAuth<Req, Res>(call: ServerMiddlewareCall<Req, Res>, context: CallContext) {
    if (!secretMatches(secret, context.metadata.get(CLUSTER_SECRET_HEADER))) throw new ServerError(Status.UNAUTHENTICATED, PEER_UNAUTHENTICATED);
    return yield* call.next(call.request, context);
  };
}

export function createPeerService(core: HubCore): PeerServiceImplementation {
  return {
    async relay(req, context) {
      const r = peerRelayFromProto(req);
      return peerResultToProto(await core.relayForPeer(r.namespace, r.machineId, r.epoch, r.call, r.deadline, context.signal));
    },

    async *attach(requests, context) {
      const it = requests[Symbol.asyncIterator]();
      const first = await it.next();
      const open = peerAttachOpenFromProto(first.done ? undefined : first.value);
      // The calling replica reads as fast as this comes (its viewer relay keeps the buffer).
      const out = createAsyncQueue<PeerAttachResponse>({ limit: OUTBOUND_LIMIT });
      let endError: HapiError | undefined;
      const upstream = await core.attachForPeer(
        open.namespace,
        open.machineId,
        open.sessionId,
        open.epoch,
        open.hello,
        {
          event: (e) => void out.push(peerAttachEventToProto(e)),
          end(err) {
            endError ??= err;
            out.end();
          },
        },
        context.signal,
      );
      yield PEER_ATTACH_OPENED;
      void (async () => {
        try {
          for (;;) {
            const r = await it.next();
            if (r.done) break;
            upstream.send(peerAttachMessageFromProto(r.value));
          }
        } catch (err) {
          endError ??= isHapiError(err) ? err : new UnavailableError('the calling replica went away');
        } finally {
          // The viewer went (or its replica did): the runner's attach stream ends with it.
          upstream.close();
          out.end();
        }
      })();
      try {
        yield* out;
      } catch (err) {
        endError ??= new HapiError('ResourceExhausted', String((err as Error).message));
      } finally {
        upstream.close();
      }
      if (endError) throw toServerError(endError);
    },
  };
}

/** Dials the other replicas: one channel per address, kept for later calls. */
export function createPeerDialer(secret: string): PeerDialer {
  const channels = new Map<string, Channel>();
  const metadata = Metadata({ [CLUSTER_SECRET_HEADER]: secret });
  const clientFor = (addr: string) => {
    let ch = channels.get(addr);
    if (!ch) {
      ch = createChannel(`http://${addr}`, ChannelCredentials.createInsecure(), {
        'grpc.initial_reconnect_backoff_ms': 200,
        'grpc.max_reconnect_backoff_ms': 2_000,
      });
      channels.set(addr, ch);
    }
    return createClient(PeerServiceDefinition, ch);
  };
  return {
    attach(addr, open, handlers, signal) {
      const abort = new AbortController();
      const onAbort = () => abort.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      const queue = createAsyncQueue<PeerAttachRequest>();
      queue.push(peerAttachOpenToProto(open));
      const responses = clientFor(addr).attach(queue, { metadata, signal: abort.signal });
      let closed = false;
      const upstream: Upstream = {
        send: (m) => void (closed || queue.push(peerAttachMessageToProto(m))),
        close() {
          if (closed) return;
          closed = true;
          queue.end();
          abort.abort();
          signal.removeEventListener('abort', onAbort);
        },
      };
      return new Promise<Upstream>((resolve, reject) => {
        let opened = false;
        void (async () => {
          try {
            for await (const r of responses) {
              const e = peerAttachEventFromProto(r);
              if (e === 'opened') {
                opened = true;
                resolve(upstream);
              } else if (opened) handlers.event(e);
            }
            if (!opened) reject(new UnavailableError(`the hub replica at ${addr} ended the attach before it opened`));
            else if (!closed) handlers.end();
          } catch (err) {
            const e = fromClientError(err);
            const why = isHapiError(e) ? e : new UnavailableError(`the attach through the hub replica at ${addr} failed`);
            if (!opened) reject(closed ? new AbortedError('the viewer went away') : why);
            else if (!closed) handlers.end(why);
          } finally {
            closed = true;
            queue.end();
            signal.removeEventListener('abort', onAbort);
          }
        })();
      });
    },

    async relay(addr, r, signal) {
      let timeout: AbortSignal | undefined;
      try {
        // The owner answers by the call's deadline (it times the runner out); a second more for
        // the way back, so a replica that stopped answering never holds the caller longer.
        timeout = AbortSignal.timeout(Math.max(1, r.deadline.getTime() - Date.now()) + 1_000);
        const res = await clientFor(addr).relay(peerRelayToProto(r), { metadata, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
        return peerResultFromProto(res);
      } catch (err) {
        if (timeout?.aborted && !signal?.aborted) throw new DeadlineExceededError(`the hub replica at ${addr} did not answer in time`);
        throw fromClientError(err);
      }
    },
    close() {
      for (const ch of channels.values()) ch.close();
      channels.clear();
    },
  };
}
