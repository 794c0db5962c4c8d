/** Entry for benchmarks and examples that need generated definitions without a TS toolchain. */
export { RunnerServiceDefinition } from './contract/runner.js';
export { createUdsChannel } from './shared/grpc-channel.js';
export { HubServiceDefinition } from './contract/hub.js';
export { MachineServiceDefinition } from './contract/machine-link.js';
export { SessionServiceDefinition } from './contract/session.js';
// Notifications (bench/notify.mjs): a hub core and store in process, the notifier wired as the hub wires it.
export { openHubStore } from './hub/store/sqlite/sqlite-store.js';
export { createHubCore } from './hub/domain/hub-core.js';
export { startHubNotifications } from './hub/notify/hub-notify.js';
export { webConfig } from './shared/config-web.js';
export { silentLogger } from './shared/logger.js';
export { sessionSocketPathFor } from './shared/paths.js';
