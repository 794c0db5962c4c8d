/**
 * The one mapping from domain errors to HTTP statuses, and the one JSON error body every HTTP
 * surface (the runner's gateway, the hub's REST view, the web page's sign-in) answers with:
 *
 *   {success: false, error: "<message for a person>", code: "<ErrorKind>", ...details}
 *
 * `code` uses the same vocabulary as gRPC status codes (ErrorKind); the HTTP status is the precise
 * one (405, 413, 415 have no ErrorKind of their own and are raised as HttpError).
 */
import { DISK_FULL, HapiError, isHapiError, type ErrorKind } from '../errors.js';

const KIND_TO_HTTP: Record<ErrorKind, number> = {
  InvalidArgument: 400,
  Unauthenticated: 401,
  PermissionDenied: 403,
  NotFound: 404,
  AlreadyExists: 409,
  FailedPrecondition: 412,
  Aborted: 409,
  ResourceExhausted: 429,
  Internal: 500,
  Unavailable: 503,
  DeadlineExceeded: 504,
};

/** The HTTP status of a domain error kind. */
export function httpStatusOf(kind: ErrorKind): number {
  return KIND_TO_HTTP[kind];
}

/** The one JSON error body of every HTTP surface. */
export interface HttpErrorBody {
  success: false;
  error: string;
  code: ErrorKind;
  [key: string]: unknown;
}

/**
 * An error of the HTTP layer itself, whose status is not the one of its kind (405 wrong method,
 * 413 body too large, 415 wrong content type), optionally with response headers (Allow).
 */
export class HttpError extends HapiError {
  constructor(
    readonly status: number,
    kind: ErrorKind,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(kind, message);
  }
}

/** 405 for a known path and another method; `allow` lists the methods it accepts. */
export function methodNotAllowed(method: string, path: string, allow: readonly string[]): HttpError {
  return new HttpError(405, 'InvalidArgument', `method ${method} not allowed on ${path}; use ${allow.join(' or ')}`, {
    allow: allow.join(', '),
  });
}

/** Domain error -> [status, body, headers]. Unknown errors never leak their message. */
export function toHttpError(err: unknown): [number, HttpErrorBody, Record<string, string>] {
  if (!isHapiError(err)) return [500, { success: false, error: 'internal error', code: 'Internal' }, {}];
  // HttpErrors are raised and answered inside this layer (one module copy), so instanceof holds.
  const headers: Record<string, string> = err instanceof HttpError ? { ...err.headers } : {};
  if (err.kind === 'Unauthenticated') headers['www-authenticate'] = 'Bearer';
  // A full disk is not a rate limit: 507 Insufficient Storage, not 429 (clients back off on 429).
  const status = err instanceof HttpError ? err.status : err.details?.reason === DISK_FULL ? 507 : KIND_TO_HTTP[err.kind];
  return [status, { success: false, error: err.message, code: err.kind, ...err.details }, headers];
}
