/**
 * Typed domain errors. Domain code throws these; the transport edges map them to gRPC status
 * codes (grpc-errors.ts) and HTTP statuses (http/errors.ts) in exactly one place each.
 */
export type ErrorKind =
  | 'InvalidArgument'
  | 'NotFound'
  | 'AlreadyExists'
  | 'FailedPrecondition'
  | 'PermissionDenied'
  | 'Unauthenticated'
  | 'ResourceExhausted'
  | 'Unavailable'
  | 'DeadlineExceeded'
  | 'Aborted'
  | 'Internal';

/** Marks HapiErrors across copies of this module (see isHapiError). */
const HAPI_ERROR = Symbol.for('hapi.HapiError');

export class HapiError extends Error {
  readonly kind: ErrorKind;
  /** Extra machine-readable details, passed through to JSON error bodies. */
  readonly details?: Record<string, unknown>;

  constructor(kind: ErrorKind, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.kind = kind;
    this.details = details;
    this.name = `${kind}Error`;
  }

  get [HAPI_ERROR](): true {
    return true;
  }
}

type Details = Record<string, unknown> | undefined;

export class InvalidArgumentError extends HapiError {
  constructor(message: string, details?: Details) { super('InvalidArgument', message, details); }
}
export class NotFoundError extends HapiError {
  constructor(message: string, details?: Details) { super('NotFound', message, details); }
}
export class AlreadyExistsError extends HapiError {
  constructor(message: string, details?: Details) { super('AlreadyExists', message, details); }
}
export class FailedPreconditionError extends HapiError {
  constructor(message: string, details?: Details) { super('FailedPrecondition', message, details); }
}
export class PermissionDeniedError extends HapiError {
  constructor(message: string, details?: Details) { super('PermissionDenied', message, details); }
}
export class UnauthenticatedError extends HapiError {
  constructor(message = 'missing or invalid token', details?: Details) { super('Unauthenticated', message, details); }
}
export class ResourceExhaustedError extends HapiError {
  constructor(message: string, details?: Details) { super('ResourceExhausted', message, details); }
}
/**
 * A write failed for lack of space (ENOSPC, EDQUOT): RESOURCE_EXHAUSTED like any exhausted
 * resource, told apart by `details.reason` ('disk-full') so HTTP can answer 507, not 429.
 */
export class DiskFullError extends ResourceExhaustedError {
  constructor(message: string, details?: Details) { super(message, { ...details, reason: DISK_FULL }); }
}
/** `details.reason` of a DiskFullError (it crosses bundles and processes as data, not a class). */
export const DISK_FULL = 'disk-full';
export class UnavailableError extends HapiError {
  constructor(message: string, details?: Details, options?: ErrorOptions) { super('Unavailable', message, details, options); }
}
export class DeadlineExceededError extends HapiError {
  constructor(message: string, details?: Details) { super('DeadlineExceeded', message, details); }
}
export class AbortedError extends HapiError {
  constructor(message: string, details?: Details) { super('Aborted', message, details); }
}
export class InternalError extends HapiError {
  constructor(message: string, details?: Details) { super('Internal', message, details); }
}

/** Configuration errors are bad input from the environment: a clear message, exit code 2. */
export class ConfigError extends InvalidArgumentError {}

/**
 * By brand, not instanceof: the CLI ships as two bundles (dist/hapi.cjs and dist/lazy/*.mjs)
 * that each hold a copy of this module, and errors cross from one to the other. The one way to
 * ask "is this a HapiError?" everywhere, so a check never depends on which bundle threw.
 */
export function isHapiError(err: unknown): err is HapiError {
  return typeof err === 'object' && err !== null && (err as { [HAPI_ERROR]?: unknown })[HAPI_ERROR] === true;
}

/** Node's errno code of an error, if any (e.g. 'ENOENT'). */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'string'
    ? (err as { code: string }).code
    : undefined;
}
