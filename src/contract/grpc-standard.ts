/**
 * The gRPC standard services the hub serves next to its own: grpc.health.v1 and
 * grpc.reflection.v1 (third_party/proto, generated into gen/grpc). v1alpha has v1's messages
 * field for field, so it is served with v1's code under its own service name.
 */
import { ServerReflectionDefinition } from '../../gen/grpc/reflection/v1/reflection.js';

export {
  HealthCheckResponse_ServingStatus as HealthServingStatus,
  HealthDefinition,
  type HealthServiceImplementation,
} from '../../gen/grpc/health/v1/health.js';
export {
  ServerReflectionDefinition,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  type ServerReflectionServiceImplementation,
} from '../../gen/grpc/reflection/v1/reflection.js';

export const ServerReflectionV1AlphaDefinition = { ...ServerReflectionDefinition, fullName: 'grpc.reflection.v1alpha.ServerReflection' } as const;
