/** The one mapping from domain errors to HTTP statuses and JSON error bodies. */
import { type ErrorKind, isHapiError } from '../errors.js';

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

export function httpStatusOf(kind: ErrorKind): number {
  return KIND_TO_HTTP[kind];
}

export interface HttpErrorBody {
  success: false;
  error: string;
  code: ErrorKind;
  [key: string]: unknown;
}

/** Domain error -> [status, body]. Unknown errors never leak their message. */
export function toHttpError(err: unknown): [number, HttpErrorBody] {
  if (isHapiError(err)) {
    return [KIND_TO_HTTP[err.kind], { success: false, error: err.message, code: err.kind, ...err.details }];
  }
  return [500, { success: false, error: 'internal error', code: 'Internal' }];
}
