/**
 * The one mapping between domain errors and gRPC status codes, both ways, plus the server
 * middleware that applies it so no internal error text leaks to callers.
 */
import { ClientError, ServerError, Status, type CallContext, type ServerMiddlewareCall } from 'nice-grpc-common';
import { isAbortError } from 'abort-controller-x';
import type { Logger } from 'pino';
import { HapiError, type ErrorKind, isHapiError } from './errors.js';

const KIND_TO_STATUS: Record<ErrorKind, Status> = {
  InvalidArgument: Status.INVALID_ARGUMENT,
  NotFound: Status.NOT_FOUND,
  AlreadyExists: Status.ALREADY_EXISTS,
  FailedPrecondition: Status.FAILED_PRECONDITION,
  PermissionDenied: Status.PERMISSION_DENIED,
  Unauthenticated: Status.UNAUTHENTICATED,
  ResourceExhausted: Status.RESOURCE_EXHAUSTED,
  Unavailable: Status.UNAVAILABLE,
  DeadlineExceeded: Status.DEADLINE_EXCEEDED,
  Aborted: Status.ABORTED,
  Internal: Status.INTERNAL,
};

const STATUS_TO_KIND = new Map<Status, ErrorKind>(
  Object.entries(KIND_TO_STATUS).map(([kind, status]) => [status, kind as ErrorKind]),
);

export function grpcStatusOf(kind: ErrorKind): Status {
  return KIND_TO_STATUS[kind];
}

/** The trailer of gRPC's server pushback: milliseconds before the client should try again. */
export const RETRY_PUSHBACK_TRAILER = 'grpc-retry-pushback-ms';

/** An UNAVAILABLE error's retry hint (`details.retryAfterMs`), if it has one. */
export function retryHintOf(err: unknown): number | undefined {
  if (!isHapiError(err) || err.kind !== 'Unavailable') return undefined;
  const ms = err.details?.retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? Math.round(ms) : undefined;
}

/** The server's retry pushback from a call's trailer (ms), if any and valid. */
export function retryPushbackOf(trailer: { get(key: string): string | Uint8Array | undefined } | undefined): number | undefined {
  const raw = trailer?.get(RETRY_PUSHBACK_TRAILER);
  if (typeof raw !== 'string' || !/^\d{1,9}$/.test(raw)) return undefined;
  return Number(raw);
}

/** Domain error -> ServerError. Anything that is not a HapiError becomes a generic INTERNAL. */
export function toServerError(err: unknown): ServerError {
  if (err instanceof ServerError) return err;
  if (isHapiError(err)) return new ServerError(KIND_TO_STATUS[err.kind], err.message);
  return new ServerError(Status.INTERNAL, 'internal error');
}

/** gRPC status code number -> domain error (used for errors relayed as plain codes). */
export function fromStatusCode(code: number, message: string): HapiError {
  const kind = STATUS_TO_KIND.get(code as Status) ?? 'Internal';
  return new HapiError(kind, message);
}

/** ClientError (or any call failure) -> domain error, so callers handle one error type. */
export function fromClientError(err: unknown): unknown {
  if (err instanceof ClientError) return fromStatusCode(err.code, err.details);
  return err;
}

/** Where a server without pino (a session process: its notes) logs an unexpected handler error. */
export interface UnexpectedErrorLog {
  error(fields: { err: unknown; method: string }, message: string): void;
}

/**
 * Server middleware: maps domain errors to status codes and logs unexpected ones. Client
 * cancellations (AbortError) are passed through untouched.
 */
export function errorMappingMiddleware(log: Pick<Logger, 'error'> | UnexpectedErrorLog) {
  return async function* errorMapping<Req, Res>(call: ServerMiddlewareCall<Req, Res>, context: CallContext) {
    try {
      return yield* call.next(call.request, context);
    } catch (err) {
      if (isAbortError(err) || err instanceof ServerError) throw err;
      if (!isHapiError(err)) log.error({ err, method: call.method.path }, 'unexpected error in gRPC handler');
      const retryAfterMs = retryHintOf(err);
      // gRPC's own retry pushback (A6-client-retries): when to try again, for a busy server.
      if (retryAfterMs !== undefined) context.trailer.set(RETRY_PUSHBACK_TRAILER, String(retryAfterMs));
      throw toServerError(err);
    }
  };
}

/** A failed call as one line (a status's details, else the error's message), for status reports. */
export function describeClientError(err: unknown): string {
  if (err && typeof err === 'object' && 'details' in err && typeof (err as { details: unknown }).details === 'string') {
    const e = err as { code?: number; details: string };
    return e.details || `gRPC status ${e.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}
