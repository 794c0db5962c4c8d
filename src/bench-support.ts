/** Entry for benchmarks and examples that need generated definitions without a TS toolchain. */
export { RunnerServiceDefinition } from '../gen/hapi/runner/v1/runner.js';
export { createUdsChannel } from './shared/grpc-channel.js';
export { HubServiceDefinition } from '../gen/hapi/hub/v1/hub.js';
export { MachineServiceDefinition } from '../gen/hapi/hub/v1/machine.js';
