/**
 * The requests relayed down one runner stream that await an answer. Each has an id and a
 * deadline; it settles exactly once: with the runner's answer, DeadlineExceeded, Aborted when
 * the caller gives up, or the error given to `rejectAll` when the stream goes away.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AbortedError, DeadlineExceededError, HapiError, isHapiError } from '../../shared/errors.js';
import type { RelayCall, RelayResult } from '../../contract/types.js';

export interface PendingRequests {
  /**
   * Registers a request, hands it to `transmit` (which sends it down the stream) and resolves
   * with the runner's answer.
   */
  request(
    call: RelayCall,
    deadlineMs: number,
    transmit: (requestId: string, deadline: Date) => void,
    signal?: AbortSignal,
  ): Promise<RelayResult>;
  /** The runner's answer (or error) to a request; unknown or expired ids are ignored. */
  answer(requestId: string, result: RelayResult | HapiError): void;
  /** Fails every request still waiting (the stream ended or was replaced). */
  rejectAll(err: HapiError): void;
  readonly size: number;
}

export interface PendingRequestsOptions {
  /** The machine the stream belongs to (for messages). */
  machineId: string;
  log: Logger;
  now: () => Date;
}

interface Pending {
  method: RelayCall['method'];
  resolve(r: RelayResult): void;
  reject(e: HapiError): void;
}

export function createPendingRequests(opts: PendingRequestsOptions): PendingRequests {
  const { machineId, log, now } = opts;
  const pending = new Map<string, Pending>();

  return {
    request(call, deadlineMs, transmit, signal) {
      signal?.throwIfAborted();
      const requestId = randomUUID();
      const deadline = new Date(now().getTime() + deadlineMs);
      return new Promise<RelayResult>((resolve, reject) => {
        const onAbort = () => settle(() => reject(new AbortedError('call cancelled by the caller')));
        const timer = setTimeout(
          () => settle(() => reject(new DeadlineExceededError(`machine ${machineId} did not answer within ${deadlineMs} ms`))),
          deadlineMs,
        );
        // Whoever comes first settles; everything after finds the request gone.
        const settle = (fn: () => void) => {
          if (!pending.delete(requestId)) return;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          fn();
        };
        pending.set(requestId, {
          method: call.method,
          resolve: (r) => settle(() => resolve(r)),
          reject: (e) => settle(() => reject(e)),
        });
        signal?.addEventListener('abort', onAbort, { once: true });
        transmit(requestId, deadline);
      });
    },

    answer(requestId, result) {
      const p = pending.get(requestId);
      if (!p) {
        log.debug({ machineId, requestId }, 'answer to an unknown or expired request');
        return;
      }
      if (isHapiError(result)) return p.reject(result);
      if (result.method !== p.method) return p.reject(new HapiError('Internal', `runner answered ${p.method} with ${result.method}`));
      p.resolve(result);
    },

    rejectAll(err) {
      for (const p of [...pending.values()]) p.reject(err);
    },

    get size() {
      return pending.size;
    },
  };
}
