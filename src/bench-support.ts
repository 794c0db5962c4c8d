/** Entry for benchmarks and examples that need generated definitions without a TS toolchain. */
export { RunnerServiceDefinition } from './contract/runner.js';
export { createUdsChannel } from './shared/grpc-channel.js';
export { HubServiceDefinition } from './contract/hub.js';
export { MachineServiceDefinition } from './contract/machine-link.js';
export { SessionServiceDefinition } from './contract/session.js';
export { sessionSocketPathFor } from './shared/paths.js';
