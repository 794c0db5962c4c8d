/**
 * The standard gRPC health service (grpc.health.v1.Health) and server reflection
 * (grpc.reflection.v1 and v1alpha), served next to the hub's own services without auth so
 * that load balancers, grpcurl and grpc_health_probe work. Both come from the official
 * packages (grpc-health-check, @grpc/reflection; reflection serves gen/descriptors.binpb); they register grpc-js style handlers, which
 * are adapted here to nice-grpc services because nice-grpc owns the grpc-js Server.
 */
import { existsSync, readFileSync } from 'node:fs';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventEmitter } from 'node:events';
import type { CallContext } from 'nice-grpc';
import { ServerError, Status } from 'nice-grpc';
import type { ServiceDefinition as GrpcJsServiceDefinition } from '@grpc/grpc-js';
import type { Logger } from 'pino';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

export interface HealthService {
  definition: GrpcJsServiceDefinition;
  implementation: Record<string, unknown>;
  set(service: string, status: ServingStatus): void;
  /** Ends every Watch call (shutdown). */
  close(): void;
}

export async function createHealthService(services: string[]): Promise<HealthService> {
  const { service } = await import('grpc-health-check');
  const status = new Map<string, ServingStatus>(['', ...services].map((s) => [s, 'SERVING']));
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  return {
    definition: service as unknown as GrpcJsServiceDefinition,
    implementation: {
      async Check(req: { service?: string }) {
        const s = status.get(req.service ?? '');
        if (!s) throw new ServerError(Status.NOT_FOUND, `unknown service ${JSON.stringify(req.service)}`);
        return { status: s };
      },
      async List() {
        return { statuses: Object.fromEntries([...status].map(([name, s]) => [name, { status: s }])) };
      },
      async *Watch(req: { service?: string }, ctx: CallContext) {
        const name = req.service ?? '';
        let last: string | undefined;
        for (;;) {
          const now = status.get(name) ?? 'SERVICE_UNKNOWN';
          if (now !== last) yield { status: (last = now) };
          if (ctx.signal.aborted || now === 'NOT_SERVING') return;
          await new Promise<void>((r) => {
            const done = () => {
              changes.off('change', done);
              ctx.signal.removeEventListener('abort', done);
              r();
            };
            changes.on('change', done);
            ctx.signal.addEventListener('abort', done, { once: true });
          });
        }
      },
    },
    set(name, s) {
      status.set(name, s);
      changes.emit('change');
    },
    close() {
      for (const k of status.keys()) status.set(k, 'NOT_SERVING');
      changes.emit('change');
    },
  };
}

/** The services whose descriptors reflection offers: exactly what the hub serves. */
export const REFLECTED_SERVICES = [
  'hapi.hub.v1.MachineService',
  'hapi.hub.v1.HubService',
  'hapi.hub.v1.TokenService',
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
];

/**
 * Finds gen/descriptors.binpb (written by `npm run gen`; shipped with the package), looking
 * upwards from this module: it runs from dist/lazy/ in a build and from src/hub/grpc in tests.
 */
export function findDescriptorSet(from = dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = from;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'gen', 'descriptors.binpb');
    if (existsSync(candidate)) return candidate;
    const up = resolve(dir, '..');
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/**
 * Splits a serialized google.protobuf.FileDescriptorSet (`repeated FileDescriptorProto file = 1`)
 * into its files, byte for byte, keeping the first of each name (sets built separately may
 * repeat a shared import).
 */
export function splitFileDescriptorSet(bytes: Uint8Array): Uint8Array[] {
  const files: Uint8Array[] = [];
  const seen = new Set<string>();
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field !== 1 || wireType !== WireType.LengthDelimited) {
      reader.skip(wireType);
      continue;
    }
    const file = reader.bytes();
    const name = fileName(file);
    if (seen.has(name)) continue;
    seen.add(name);
    files.push(file);
  }
  return files;
}

/** FileDescriptorProto.name (field 1). */
function fileName(file: Uint8Array): string {
  const reader = new BinaryReader(file);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) return reader.string();
    reader.skip(wireType);
  }
  return '';
}

export interface ReflectionServices {
  services: { definition: GrpcJsServiceDefinition; implementation: Record<string, unknown> }[];
}

/**
 * Builds reflection (grpc.reflection.v1 and v1alpha) over the real file descriptors of every
 * served service, so clients see the files as written (hapi/hub/v1/hub.proto with its imports)
 * and can describe and call methods without local protos. Returns undefined (and logs) when
 * the descriptor set cannot be found: reflection is a convenience, not a contract.
 */
export async function createReflectionServices(log: Logger): Promise<ReflectionServices | undefined> {
  const path = findDescriptorSet();
  if (!path) {
    log.warn('gen/descriptors.binpb not found next to the CLI: gRPC server reflection is disabled');
    return undefined;
  }
  const { ReflectionService } = await import('@grpc/reflection');
  // @grpc/reflection reads only `fileDescriptorProtos` from a package definition. Given the
  // files as built by buf (not re-derived by proto-loader, which merges files per package and
  // drops their real names and imports), it serves them as they are.
  const pkg = { files: { fileDescriptorProtos: splitFileDescriptorSet(readFileSync(path)) } };
  const reflection = new ReflectionService(pkg as never, { services: REFLECTED_SERVICES });
  const services: ReflectionServices['services'] = [];
  // Capture the grpc-js style registrations and adapt their bidi handler.
  reflection.addToServer({
    addService(definition: GrpcJsServiceDefinition, impl: Record<string, (stream: unknown) => void>) {
      const handler = impl.ServerReflectionInfo!;
      services.push({
        definition,
        implementation: {
          async *ServerReflectionInfo(requests: AsyncIterable<unknown>) {
            for await (const request of requests) {
              const responses: unknown[] = [];
              const stream = new EventEmitter() as EventEmitter & { write(r: unknown): boolean; end(): void };
              stream.write = (r: unknown) => (responses.push(r), true);
              stream.end = () => undefined;
              handler(stream);
              stream.emit('data', request);
              yield* responses;
            }
          },
        },
      });
    },
  } as never);
  return { services };
}
