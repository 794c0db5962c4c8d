import { describe, expect, it, vi } from 'vitest';
import { Status, ClientError, ServerError } from 'nice-grpc';
import {
  AlreadyExistsError, ConfigError, DiskFullError, DeadlineExceededError, FailedPreconditionError, HapiError, InvalidArgumentError,
  NotFoundError, PermissionDeniedError, ResourceExhaustedError, UnauthenticatedError, UnavailableError, isHapiError, type ErrorKind,
} from './errors.js';
import { fromClientError, fromStatusCode, grpcStatusOf, toServerError } from './grpc-errors.js';
import { httpStatusOf, toHttpError } from './http/errors.js';

const cases: Array<[HapiError, Status, number]> = [
  [new InvalidArgumentError('bad'), Status.INVALID_ARGUMENT, 400],
  [new NotFoundError('nf'), Status.NOT_FOUND, 404],
  [new AlreadyExistsError('ae'), Status.ALREADY_EXISTS, 409],
  [new FailedPreconditionError('fp'), Status.FAILED_PRECONDITION, 412],
  [new PermissionDeniedError('pd'), Status.PERMISSION_DENIED, 403],
  [new UnauthenticatedError(), Status.UNAUTHENTICATED, 401],
  [new ResourceExhaustedError('re'), Status.RESOURCE_EXHAUSTED, 429],
  [new UnavailableError('un'), Status.UNAVAILABLE, 503],
  [new DeadlineExceededError('de'), Status.DEADLINE_EXCEEDED, 504],
];

describe('error mappings', () => {
  it.each(cases)('%s maps to gRPC %s and HTTP %s', (err, status, http) => {
    const server = toServerError(err);
    expect(server.code).toBe(status);
    expect(server.details).toBe(err.message);
    expect(httpStatusOf(err.kind)).toBe(http);
    const [code, body] = toHttpError(err);
    expect(code).toBe(http);
    expect(body).toMatchObject({ success: false, error: err.message, code: err.kind });
  });

  it('a full disk is RESOURCE_EXHAUSTED on gRPC but 507 (not the 429 of a rate limit) on HTTP', () => {
    const err = new DiskFullError('disk full: cannot write /x (ENOSPC); free some space and retry', { path: '/x' });
    expect(toServerError(err).code).toBe(Status.RESOURCE_EXHAUSTED);
    const [code, body] = toHttpError(err);
    expect(code).toBe(507);
    expect(body).toMatchObject({ success: false, code: 'ResourceExhausted', reason: 'disk-full', path: '/x' });
    expect(toHttpError(new ResourceExhaustedError('too many'))[0]).toBe(429);
  });

  it('round-trips every kind through a gRPC status code', () => {
    const kinds: ErrorKind[] = ['InvalidArgument', 'NotFound', 'AlreadyExists', 'FailedPrecondition', 'PermissionDenied',
      'Unauthenticated', 'ResourceExhausted', 'Unavailable', 'DeadlineExceeded', 'Aborted', 'Internal'];
    for (const kind of kinds) {
      const back = fromStatusCode(grpcStatusOf(kind), 'm');
      expect(back.kind).toBe(kind);
    }
  });

  it('maps a ClientError back to a domain error and leaves others alone', () => {
    const mapped = fromClientError(new ClientError('/x/Y', Status.NOT_FOUND, 'no such session'));
    expect(mapped).toBeInstanceOf(HapiError);
    expect((mapped as HapiError).kind).toBe('NotFound');
    expect((mapped as HapiError).message).toBe('no such session');
    const plain = new Error('boom');
    expect(fromClientError(plain)).toBe(plain);
  });

  it('never leaks the message of an unexpected error', () => {
    const server = toServerError(new TypeError('secret internals'));
    expect(server.code).toBe(Status.INTERNAL);
    expect(server.details).not.toContain('secret');
    const [code, body] = toHttpError(new TypeError('secret internals'));
    expect(code).toBe(500);
    expect(JSON.stringify(body)).not.toContain('secret');
  });

  it('passes ServerErrors through unchanged', () => {
    const original = new ServerError(Status.ABORTED, 'x');
    expect(toServerError(original)).toBe(original);
  });

  it('carries details into the HTTP body', () => {
    const [, body] = toHttpError(new InvalidArgumentError('bad field', { field: 'pid' }));
    expect(body.field).toBe('pid');
  });

  it('recognises HapiErrors by brand, also from another copy of the module', async () => {
    // A fresh module instance, as in the CLI's second bundle: a different HapiError class.
    vi.resetModules();
    const other = await import('./errors.js');
    const foreign = new other.NotFoundError('x');
    expect(foreign instanceof HapiError).toBe(false);
    expect(isHapiError(foreign)).toBe(true);
    expect(isHapiError(new UnavailableError('y'))).toBe(true);
    expect(isHapiError(new Error('plain'))).toBe(false);
    expect(isHapiError({ kind: 'NotFound', message: 'look-alike' })).toBe(false);
    expect(isHapiError(null)).toBe(false);
  });

  it('ConfigError is an InvalidArgument', () => {
    expect(new ConfigError('x').kind).toBe('InvalidArgument');
  });
});
