/**
 * The standard gRPC health service (grpc.health.v1.Health) and server reflection
 * (grpc.reflection.v1 and v1alpha), served next to the hub's own services without auth so
 * that load balancers, grpcurl and grpc_health_probe work. Both come from the official
 * packages (grpc-health-check, @grpc/reflection); they register grpc-js style handlers, which
 * are adapted here to nice-grpc services because nice-grpc owns the grpc-js Server.
 */
import { existsSync } from 'node:fs';
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

/** Finds the directory holding hapi's .proto files (shipped with the package as proto/). */
export function findProtoRoot(from = dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = from;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'proto', 'hapi', 'hub', 'v1', 'hub.proto'))) return join(dir, 'proto');
    const up = resolve(dir, '..');
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

export interface ReflectionServices {
  services: { definition: GrpcJsServiceDefinition; implementation: Record<string, unknown> }[];
}

/**
 * Builds reflection for hapi's protos. Returns undefined (and logs) when the proto files
 * cannot be found, e.g. in an unusual install: reflection is a convenience, not a contract.
 */
export async function createReflectionServices(log: Logger): Promise<ReflectionServices | undefined> {
  const root = findProtoRoot();
  if (!root) {
    log.warn('proto/ not found next to the CLI: gRPC server reflection is disabled');
    return undefined;
  }
  const protoLoader = await import('@grpc/proto-loader');
  const { ReflectionService } = await import('@grpc/reflection');
  const pkg = protoLoader.loadSync(['hapi/hub/v1/hub.proto', 'hapi/hub/v1/machine.proto', 'hapi/common/v1/common.proto'], {
    includeDirs: [root],
  });
  const reflection = new ReflectionService(pkg);
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
