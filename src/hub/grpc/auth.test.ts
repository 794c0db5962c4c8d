// The auth middleware on a real gRPC server: a bad token is UNAUTHENTICATED (one message, no
// reason), but a token that could not be looked up because the database is busy or away is
// UNAVAILABLE, so runners and clients retry instead of giving up on a good token (found by the
// replica benchmark: a connect burst exhausted PostgreSQL's pool and runners were told their
// token was invalid).
import { afterEach, describe, expect, it } from 'vitest';
import { createChannel, createClient, createServer, Metadata, Status, type Server } from 'nice-grpc';
import { HubServiceDefinition } from '../../contract/hub.js';
import { UnauthenticatedError, UnavailableError } from '../../shared/errors.js';
import { errorMappingMiddleware, retryPushbackOf } from '../../shared/grpc-errors.js';
import type { HubCore } from '../domain/hub-core.js';
import { authMiddleware } from './auth.js';

let server: Server | undefined;
afterEach(async () => {
  await server?.shutdown();
  server = undefined;
});

async function callWith(failure: Error, onTrailer?: (trailer: Metadata) => void) {
  const core = { authenticate: async () => Promise.reject(failure), watchToken: () => () => undefined } as unknown as HubCore;
  server = createServer();
  // Only WhoAmI is called; every other method exists (nice-grpc binds them all) and is never reached.
  const whoAmI = async () => ({ namespace: 'x', owner: false, tokenId: 't', scope: 0 });
  const impl = new Proxy({}, { get: (_t, name) => (name === 'whoAmI' ? whoAmI : async () => Promise.reject(new Error('not used'))) });
  server.with(errorMappingMiddleware({ error: () => undefined })).with(authMiddleware(core)).add(HubServiceDefinition, impl as never);
  const port = await server.listen('127.0.0.1:0');
  const channel = createChannel(`127.0.0.1:${port}`);
  try {
    const client = createClient(HubServiceDefinition, channel);
    return await client.whoAmI({}, { metadata: Metadata({ authorization: 'Bearer hapi_x' }), onTrailer }).then(() => undefined, (err: unknown) => err);
  } finally {
    channel.close();
  }
}

describe('auth middleware', () => {
  it('answers UNAUTHENTICATED for a bad token, without saying why', async () => {
    expect(await callWith(new UnauthenticatedError('revoked'))).toMatchObject({ code: Status.UNAUTHENTICATED, details: 'missing or invalid token' });
  });

  it('answers UNAVAILABLE when the token could not be looked up (the database is busy or away)', async () => {
    expect(await callWith(new UnavailableError('the hub database is unreachable; retry shortly'))).toMatchObject({ code: Status.UNAVAILABLE });
  });

  it("sends an UNAVAILABLE's retry hint as gRPC's retry pushback trailer, and only then", async () => {
    let pushback: number | undefined = -1;
    const busy = new UnavailableError('hub is busy accepting runners', { retryAfterMs: 2345 });
    expect(await callWith(busy, (t) => (pushback = retryPushbackOf(t)))).toMatchObject({ code: Status.UNAVAILABLE });
    expect(pushback).toBe(2345);
    await callWith(new UnavailableError('the hub database is unreachable'), (t) => (pushback = retryPushbackOf(t)));
    expect(pushback).toBeUndefined();
  });
});
