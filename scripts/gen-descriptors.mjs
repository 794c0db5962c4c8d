// Writes gen/descriptors.binpb: one google.protobuf.FileDescriptorSet holding the real file
// descriptors (real paths, their imports, comments) of every service the hub serves: hapi's
// protos, grpc.health.v1 and grpc.reflection v1 and v1alpha (vendored in third_party/proto).
// The hub's server reflection serves these, so grpcurl and `buf curl` can describe and call
// methods without local .proto files. Run by `npm run gen` after `buf generate` (which cleans
// gen/); CI checks the result is current.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
/** hapi's contract, and the gRPC standard services vendored in third_party/proto. */
const inputs = [join(root, 'proto'), join(root, 'third_party', 'proto')];
const tmp = mkdtempSync(join(tmpdir(), 'hapi-descriptors-'));
try {
  // A FileDescriptorSet is `repeated FileDescriptorProto file = 1`: sets concatenate.
  const parts = inputs.map((input, i) => {
    const out = join(tmp, `${i}.binpb`);
    const args = ['build', input, '--as-file-descriptor-set', '-o', out];
    execFileSync('buf', args, { cwd: root, stdio: 'inherit' });
    return readFileSync(out);
  });
  writeFileSync(join(root, 'gen', 'descriptors.binpb'), Buffer.concat(parts));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
