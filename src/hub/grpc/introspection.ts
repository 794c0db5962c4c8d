/**
 * The standard gRPC health service (grpc.health.v1.Health) and server reflection
 * (grpc.reflection.v1 and v1alpha), served next to the hub's own services without auth so
 * that load balancers, grpcurl and grpc_health_probe work. Both are nice-grpc services over
 * code generated from the vendored protos in third_party/proto (src/contract/grpc-standard.ts);
 * reflection answers from gen/descriptors.binpb, read on the first reflection request. (The
 * official grpc-health-check and @grpc/reflection packages load a second copy of grpc-js,
 * proto-loader and protobufjs: ~15 MB of an idle hub's memory, bench/idle.mjs.)
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventEmitter } from 'node:events';
import { ServerError, Status, type CallContext } from 'nice-grpc';
import type { Logger } from 'pino';
import {
  HealthDefinition,
  HealthServingStatus as Serving,
  ServerReflectionDefinition,
  ServerReflectionV1AlphaDefinition,
  type HealthServiceImplementation,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  type ServerReflectionServiceImplementation,
} from '../../contract/grpc-standard.js';
import { createDescriptorIndex, type DescriptorIndex } from './descriptor-index.js';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

export interface HealthService {
  definition: HealthDefinition;
  implementation: HealthServiceImplementation;
  set(service: string, status: ServingStatus): void;
  /** Ends every Watch call (shutdown). */
  close(): void;
}

export async function createHealthService(services: string[]): Promise<HealthService> {
  const status = new Map<string, ServingStatus>(['', ...services].map((s) => [s, 'SERVING']));
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  return {
    definition: HealthDefinition,
    implementation: {
      async check(req) {
        const s = status.get(req.service);
        if (!s) throw new ServerError(Status.NOT_FOUND, `unknown service ${JSON.stringify(req.service)}`);
        return { status: Serving[s] };
      },
      async list() {
        return { statuses: Object.fromEntries([...status].map(([name, s]) => [name, { status: Serving[s] }])) };
      },
      async *watch(req, ctx: CallContext) {
        let last: Serving | undefined;
        for (;;) {
          const s = status.get(req.service);
          const now = s ? Serving[s] : Serving.SERVICE_UNKNOWN;
          if (now !== last) yield { status: (last = now) };
          if (ctx.signal.aborted || now === Serving.NOT_SERVING) return;
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

export interface ReflectionServices {
  services: { definition: typeof ServerReflectionDefinition | typeof ServerReflectionV1AlphaDefinition; implementation: ServerReflectionServiceImplementation }[];
}

/** Answers one reflection request from the index. */
export function answerReflection(index: DescriptorIndex, request: ServerReflectionRequest): ServerReflectionResponse['messageResponse'] {
  const notFound = (what: string) => ({ $case: 'errorResponse' as const, value: { errorCode: Status.NOT_FOUND, errorMessage: `${what} not found` } });
  const files = (name: string | undefined, what: string) => {
    const found = name === undefined ? undefined : index.fileWithImports(name);
    return found ? { $case: 'fileDescriptorResponse' as const, value: { fileDescriptorProto: found } } : notFound(what);
  };
  const req = request.messageRequest;
  switch (req?.$case) {
    case 'listServices':
      return { $case: 'listServicesResponse', value: { service: REFLECTED_SERVICES.map((name) => ({ name })) } };
    case 'fileByFilename':
      return files(req.value, `file ${JSON.stringify(req.value)}`);
    case 'fileContainingSymbol':
      return files(index.fileOfSymbol(req.value), `symbol ${JSON.stringify(req.value)}`);
    case 'fileContainingExtension': {
      const { containingType, extensionNumber } = req.value;
      return files(index.fileOfExtension(containingType, extensionNumber), `extension ${extensionNumber} of ${JSON.stringify(containingType)}`);
    }
    case 'allExtensionNumbersOfType': {
      const numbers = index.extensionNumbers(req.value);
      return numbers ? { $case: 'allExtensionNumbersResponse', value: { baseTypeName: req.value, extensionNumber: numbers } } : notFound(`type ${JSON.stringify(req.value)}`);
    }
    default:
      return { $case: 'errorResponse', value: { errorCode: Status.UNIMPLEMENTED, errorMessage: 'unknown reflection request' } };
  }
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
  // Read and indexed on first use: most hubs are never asked.
  let index: DescriptorIndex | undefined;
  const implementation: ServerReflectionServiceImplementation = {
    async *serverReflectionInfo(requests: AsyncIterable<ServerReflectionRequest>) {
      for await (const request of requests) {
        index ??= createDescriptorIndex(readFileSync(path));
        yield { validHost: request.host, originalRequest: request, messageResponse: answerReflection(index, request) };
      }
    },
  };
  return {
    services: [
      { definition: ServerReflectionDefinition, implementation },
      { definition: ServerReflectionV1AlphaDefinition, implementation },
    ],
  };
}
