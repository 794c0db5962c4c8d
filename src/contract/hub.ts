/**
 * HubService and TokenService (proto/hapi/hub/v1/hub.proto): the definitions and messages the
 * hub's transports and its clients (CLI, runner, tests) use, and the converters of their own
 * messages. Sessions, spawn and stop results convert with common.ts.
 */
import {
  AttachSessionRequest as AttachSessionRequestCodec,
  AttachSessionResponse as AttachSessionResponseCodec,
  TokenScope as ProtoTokenScope,
  tokenScopeToJSON,
  type AttachSessionRequest,
  type Machine,
  type TokenInfo,
} from '../../gen/hapi/hub/v1/hub.js';
import type { AttachResponse } from '../../gen/hapi/session/v1/session.js';
import { InvalidArgumentError } from '../shared/errors.js';
import { DecisionOrigin as ProtoDecisionOrigin, decisionOriginToJSON, type ApprovalDecisionRecord } from '../../gen/hapi/hub/v1/hub.js';
import type { ApprovalDecisionRecordInfo, DecisionOriginName } from './activity-types.js';
import { approvalRequestJson, approvalRequestToProto, decisionToProto } from './activity.js';
import { enumConverters } from './common.js';
import { metadataToProto, runnerStateToProto } from './common.js';
export { DecisionOrigin as ProtoDecisionOrigin } from '../../gen/hapi/hub/v1/hub.js';
import type { MachineInfo, TokenScope } from './types.js';
import type { ViewerMessage } from './session-types.js';
import { viewerMessageToProto } from './session-viewer.js';

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

/** Full gRPC method path of HubService.AttachSession. */
export const HUB_ATTACH_METHOD_PATH = '/hapi.hub.v1.HubService/AttachSession';

/**
 * Wire codecs of HubService.AttachSession for a transport that frames messages itself (the CLI's
 * node:http2 client, `hapi attach --machine`): the session's Attach messages, wrapped with the
 * machine and session (named in the first message only, as the contract allows).
 */
export const hubAttachCodec = {
  request: (target: { machineId: string; sessionId: string } | undefined, message: ViewerMessage): AttachSessionRequest => ({
    machineId: target?.machineId ?? '',
    sessionId: target?.sessionId ?? '',
    request: viewerMessageToProto(message),
  }),
  encodeRequest: (message: AttachSessionRequest): Uint8Array => AttachSessionRequestCodec.encode(message).finish(),
  /** The session's Attach response inside; an empty one decodes as an empty AttachResponse (refused by viewerEventFromProto). */
  decodeResponse: (bytes: Uint8Array): AttachResponse => AttachSessionResponseCodec.decode(bytes).response ?? {},
};

const decisionOrigin = /* @__PURE__ */ enumConverters<DecisionOriginName, ProtoDecisionOrigin>('decision origin', {
  page: ProtoDecisionOrigin.DECISION_ORIGIN_PAGE,
  cli: ProtoDecisionOrigin.DECISION_ORIGIN_CLI,
  api: ProtoDecisionOrigin.DECISION_ORIGIN_API,
  telegram: ProtoDecisionOrigin.DECISION_ORIGIN_TELEGRAM,
  push: ProtoDecisionOrigin.DECISION_ORIGIN_PUSH,
}, decisionOriginToJSON);
export const decisionOriginToProto = decisionOrigin.toProto;

/**
 * Where a caller says it decides from: CLI or API (UNSPECIFIED is API). PAGE only from the page's
 * own requests, TELEGRAM and PUSH only from the hub's own notification channels.
 */
export function callerOriginFromProto(o: ProtoDecisionOrigin): DecisionOriginName {
  return o === ProtoDecisionOrigin.DECISION_ORIGIN_CLI ? 'cli' : 'api';
}

export function decisionRecordToProto(r: ApprovalDecisionRecordInfo): ApprovalDecisionRecord {
  return {
    machineId: r.machineId,
    sessionId: r.sessionId,
    request: approvalRequestToProto(r.request),
    decision: decisionToProto(r.decision),
    message: r.message,
    tokenId: r.tokenId,
    decidedBy: r.decidedBy,
    origin: decisionOriginToProto(r.origin),
    decidedAt: r.decidedAt,
  };
}

/** The JSON shape of a recorded decision (REST view, `hapi approve --json`). */
export function decisionRecordJson(r: ApprovalDecisionRecordInfo): Record<string, unknown> {
  return {
    machineId: r.machineId,
    sessionId: r.sessionId,
    request: approvalRequestJson(r.request),
    decision: r.decision,
    message: r.message,
    tokenId: r.tokenId,
    decidedBy: r.decidedBy,
    origin: r.origin,
    decidedAt: r.decidedAt.toISOString(),
  };
}
