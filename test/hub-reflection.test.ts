// Server reflection as an independent client sees it: `buf curl` (shipped inside @bufbuild/buf,
// offline) lists, describes and calls the hub's methods from reflection alone, with no .proto
// files of ours anywhere it can read.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAllHomes, createTestHome, REPO_ROOT, type TestHome } from './harness.js';
import { startHubProcess, type HubProcess } from './hub-helpers.js';

const run = promisify(execFile);
const BUF = join(REPO_ROOT, 'node_modules', '.bin', 'buf');

const homes: TestHome[] = [];
const hubs: HubProcess[] = [];
let emptyDir: string | undefined;

afterEach(async () => {
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  await cleanupAllHomes();
  if (emptyDir) rmSync(emptyDir, { recursive: true, force: true });
  emptyDir = undefined;
});

/** Runs `buf curl` from an empty directory (so no buf.yaml or proto/ of ours can help it). */
async function bufCurl(args: string[]): Promise<string> {
  emptyDir ??= mkdtempSync(join(tmpdir(), 'hapi-bufcurl-'));
  const { stdout } = await run(BUF, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args], { cwd: emptyDir, timeout: 20_000 });
  return stdout;
}

describe('gRPC server reflection', () => {
  it('serves the real files of every served service, so an independent client can call methods', async () => {
    const th = createTestHome();
    homes.push(th);
    const h = await startHubProcess(th, {});
    hubs.push(h);
    const base = h.grpcUrl.replace(/\/$/, '');

    const services = (await bufCurl(['--list-services', base])).trim().split('\n').sort();
    expect(services).toEqual([
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'hapi.hub.v1.HubService',
      'hapi.hub.v1.MachineService',
      'hapi.hub.v1.TokenService',
    ]);
    const methods = await bufCurl(['--list-methods', base]);
    expect(methods).toContain('hapi.hub.v1.HubService/ListMachines');
    expect(methods).toContain('grpc.health.v1.Health/Check');

    // Calls need the request and response types, i.e. the files and their imports.
    const health = JSON.parse(await bufCurl(['-d', '{"service":"hapi.hub.v1.HubService"}', `${base}/grpc.health.v1.Health/Check`]));
    expect(health).toEqual({ status: 'SERVING' });
    const tokens = JSON.parse(
      await bufCurl(['-H', `authorization: Bearer ${h.ownerToken}`, '-d', '{}', `${base}/hapi.hub.v1.TokenService/ListTokens`]),
    );
    // A Timestamp field (google/protobuf/timestamp.proto, an import) decodes: the dependency is served.
    expect(tokens.tokens[0]).toMatchObject({ namespace: 'default', owner: true, createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
  });

  it('answers file_by_filename with the file as written and its imports, on v1 and v1alpha; unknown symbols are NOT_FOUND', async () => {
    const th = createTestHome();
    homes.push(th);
    const h = await startHubProcess(th, {});
    hubs.push(h);
    const base = h.grpcUrl.replace(/\/$/, '');
    const out = JSON.parse(
      await bufCurl(['-d', '{"fileByFilename":"hapi/hub/v1/hub.proto"}', `${base}/grpc.reflection.v1.ServerReflection/ServerReflectionInfo`]),
    );
    const files = out.fileDescriptorResponse.fileDescriptorProto as string[];
    const text = files.map((b) => Buffer.from(b, 'base64').toString('latin1')).join('\n');
    expect(text).toContain('hapi/hub/v1/hub.proto');
    expect(text).toContain('hapi/common/v1/common.proto');
    expect(text).toContain('google/protobuf/timestamp.proto');

    // v1alpha (what older grpcurl builds ask) answers alike; unknown names are NOT_FOUND (5).
    const alpha = JSON.parse(
      await bufCurl(['-d', '{"fileContainingSymbol":"grpc.health.v1.Health"}', `${base}/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo`]),
    );
    const alphaText = (alpha.fileDescriptorResponse.fileDescriptorProto as string[]).map((b) => Buffer.from(b, 'base64').toString('latin1')).join('\n');
    expect(alphaText).toContain('grpc/health/v1/health.proto');
    const missing = JSON.parse(await bufCurl(['-d', '{"fileContainingSymbol":"hapi.hub.v1.Nope"}', `${base}/grpc.reflection.v1.ServerReflection/ServerReflectionInfo`]));
    expect(missing.errorResponse).toMatchObject({ errorCode: 5 });
  });
});
