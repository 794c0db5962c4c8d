/**
 * Bearer-token authentication for every hub call and stream (nice-grpc server middleware).
 * The caller's namespace is resolved once per call and handed to the handler as
 * `context.caller`. A revoked token aborts its open calls, which then end UNAUTHENTICATED.
 */
import { ServerError, Status, type CallContext, type ServerMiddlewareCall } from 'nice-grpc';
import { bearerToken } from '../../shared/http/bearer.js';
import { isHapiError } from '../../shared/errors.js';
import type { Caller } from '../domain/types.js';
import type { HubCore } from '../domain/hub-core.js';

export interface CallerContext {
  caller: Caller;
}

/** The one message for every authentication failure: it says nothing about why. */
export const UNAUTHENTICATED_MESSAGE = 'missing or invalid token';

export function authMiddleware(core: HubCore) {
  return async function* auth<Req, Res>(call: ServerMiddlewareCall<Req, Res, CallerContext>, context: CallContext) {
    let caller: Caller;
    try {
      caller = await core.authenticate(bearerToken(context.metadata.get('authorization')));
    } catch (err) {
      // The token could not be looked up (the database is busy or away): UNAVAILABLE, retried
      // by runners and clients, not a token error that would tell them to give up.
      if (isHapiError(err) && err.kind === 'Unavailable') throw err;
      throw new ServerError(Status.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE);
    }
    const controller = new AbortController();
    let revoked = false;
    const onAbort = () => controller.abort(context.signal.reason);
    if (context.signal.aborted) onAbort();
    else context.signal.addEventListener('abort', onAbort, { once: true });
    const unwatch = core.watchToken(caller.tokenId, () => {
      revoked = true;
      controller.abort(new ServerError(Status.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE));
    });
    try {
      const result = yield* call.next(call.request, { ...context, signal: controller.signal, caller });
      if (revoked) throw new ServerError(Status.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE);
      return result;
    } catch (err) {
      if (revoked) throw new ServerError(Status.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE);
      throw err;
    } finally {
      unwatch();
      context.signal.removeEventListener('abort', onAbort);
    }
  };
}
