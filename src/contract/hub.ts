/**
 * HubService and TokenService (proto/hapi/hub/v1/hub.proto): the definitions and messages the
 * hub's transports and its clients (CLI, runner, tests) use, and the converters of their own
 * messages. Sessions, spawn and stop results convert with common.ts.
 */
import { TokenScope as ProtoTokenScope, tokenScopeToJSON, type Machine, type TokenInfo } from '../../gen/hapi/hub/v1/hub.js';
import { InvalidArgumentError } from '../shared/errors.js';
import { metadataToProto, runnerStateToProto } from './common.js';
import type { MachineInfo, TokenScope } from './types.js';

export {
  HubServiceDefinition,
  Machine,
  TokenServiceDefinition,
  TokenScope as ProtoTokenScope,
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
export function tokenToProto(t: { id: string; namespace: string; label: string; owner: boolean; scope: TokenScope; createdAt: Date }): TokenInfo {
  return { tokenId: t.id, namespace: t.namespace, label: t.label, createdAt: t.createdAt, owner: t.owner, scope: tokenScopeToProto(t.scope) };
}

export function tokenScopeToProto(s: TokenScope): ProtoTokenScope {
  return s === 'read-only' ? ProtoTokenScope.TOKEN_SCOPE_READ_ONLY : ProtoTokenScope.TOKEN_SCOPE_FULL;
}

/** UNSPECIFIED (an older hub or client) means full; an unknown value is refused. */
export function tokenScopeFromProto(s: ProtoTokenScope | undefined): TokenScope {
  switch (s) {
    case undefined:
    case ProtoTokenScope.TOKEN_SCOPE_UNSPECIFIED:
    case ProtoTokenScope.TOKEN_SCOPE_FULL:
      return 'full';
    case ProtoTokenScope.TOKEN_SCOPE_READ_ONLY:
      return 'read-only';
    default:
      throw new InvalidArgumentError(`unknown token scope ${String(s)}`);
  }
}

/** The scope's proto3 JSON name (`TOKEN_SCOPE_READ_ONLY`), as JSON output prints enums. */
export function tokenScopeJson(s: TokenScope): string {
  return tokenScopeToJSON(tokenScopeToProto(s));
}
