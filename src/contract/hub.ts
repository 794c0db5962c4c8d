/**
 * HubService and TokenService (proto/hapi/hub/v1/hub.proto): the definitions and messages the
 * hub's transports and its clients (CLI, runner, tests) use, and the converters of their own
 * messages. Sessions, spawn and stop results convert with common.ts.
 */
import type { Machine, TokenInfo } from '../../gen/hapi/hub/v1/hub.js';
import { metadataToProto, runnerStateToProto } from './common.js';
import type { MachineInfo } from './types.js';

export {
  HubServiceDefinition,
  Machine,
  TokenServiceDefinition,
  type HubServiceClient,
  type HubServiceImplementation,
  type TokenServiceClient,
  type TokenServiceImplementation,
} from '../../gen/hapi/hub/v1/hub.js';

export function machineToProto(m: MachineInfo): Machine {
  return {
    id: m.id,
    metadata: metadataToProto(m.metadata),
    metadataVersion: m.metadataVersion,
    runnerState: runnerStateToProto(m.runnerState),
    runnerStateVersion: m.runnerStateVersion,
    online: m.online,
    lastAlive: m.lastAlive,
    onlineSince: m.onlineSince,
  };
}

/** A token as listed: never its secret. */
export function tokenToProto(t: { id: string; namespace: string; label: string; owner: boolean; createdAt: Date }): TokenInfo {
  return { tokenId: t.id, namespace: t.namespace, label: t.label, createdAt: t.createdAt, owner: t.owner };
}
