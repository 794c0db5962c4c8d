/**
 * MachineService.Connect (proto/hapi/hub/v1/machine.proto): the one stream between a runner
 * and its hub. The definition and messages both ends need, and the converters of the stream's
 * own messages (relayed calls and their results, status reports, session event types, update
 * kinds). Both ends use these same functions, so they agree on every message. Enum rule: see
 * common.ts.
 */
import { Session } from '../../gen/hapi/common/v1/common.js';
import {
  ConnectRequest,
  SessionEventType,
  sessionEventTypeToJSON,
  UpdateKind,
  updateKindToJSON,
  type RpcRequest,
  type RpcResponse,
  type RunnerStatusReport,
} from '../../gen/hapi/hub/v1/machine.js';
import {
  enumConverters,
  spawnOutcomeFromProto,
  spawnOutcomeToProto,
  spawnSpecFromProto,
  spawnSpecToProto,
  stopResultFromProto,
  stopResultToProto,
} from './common.js';
import type { RelayCall, RelayResult, RunnerStatusReportInfo, SessionEventKind, UpdateKindName } from './types.js';

export {
  MachineServiceDefinition,
  type ConnectRequest,
  type ConnectResponse,
  type MachineServiceImplementation,
  type RpcRequest,
  type RpcResponse,
  type UpdateResult,
} from '../../gen/hapi/hub/v1/machine.js';

/**
 * The most a runner puts in one message of the stream (hello included). The hub accepts up to
 * 4 MiB (HUB_GRPC_OPTIONS in src/hub/server.ts): a runner under this bound is always heard.
 */
export const LINK_MESSAGE_MAX_BYTES = 1024 * 1024;

/** Bytes a runner's message takes on the wire. */
export function connectRequestBytes(msg: ConnectRequest): number {
  return ConnectRequest.encode(msg).finish().length;
}

/** Bytes one session adds to a hello's list: the session, its field tag and its length. */
export function helloSessionBytes(s: Session): number {
  const n = Session.encode(s).finish().length;
  let lengthBytes = 1;
  for (let v = n; v >= 0x80; v >>>= 7) lengthBytes++;
  return 1 + lengthBytes + n;
}

const sessionEventType = /* @__PURE__ */ enumConverters<SessionEventKind, SessionEventType>('session event type', {
  started: SessionEventType.SESSION_EVENT_TYPE_STARTED,
  ended: SessionEventType.SESSION_EVENT_TYPE_ENDED,
  adopted: SessionEventType.SESSION_EVENT_TYPE_ADOPTED,
}, sessionEventTypeToJSON);
/** Domain -> proto. */
export const sessionEventTypeToProto = sessionEventType.toProto;
/** Proto -> domain; SESSION_EVENT_TYPE_UNSPECIFIED or an unknown value is InvalidArgument. */
export const sessionEventTypeFromProto = sessionEventType.fromProto;

const updateKind = /* @__PURE__ */ enumConverters<UpdateKindName, UpdateKind>('update kind', {
  metadata: UpdateKind.UPDATE_KIND_METADATA,
  'runner-state': UpdateKind.UPDATE_KIND_RUNNER_STATE,
}, updateKindToJSON);
/** Domain -> proto. */
export const updateKindToProto = updateKind.toProto;
/** Proto -> domain; UPDATE_KIND_UNSPECIFIED or an unknown value is InvalidArgument. */
export const updateKindFromProto = updateKind.fromProto;

export function statusReportFromProto(r: RunnerStatusReport): RunnerStatusReportInfo {
  return { pid: r.pid, cliVersion: r.cliVersion, sessionCount: r.sessionCount, startedAt: r.startedAt };
}

export function statusReportToProto(r: RunnerStatusReportInfo): RunnerStatusReport {
  return { pid: r.pid, cliVersion: r.cliVersion, sessionCount: r.sessionCount, startedAt: r.startedAt };
}

export function relayCallToProto(requestId: string, deadline: Date, call: RelayCall): RpcRequest {
  switch (call.method) {
    case 'spawn':
      return { requestId, deadline, method: { $case: 'spawnSession', value: spawnSpecToProto(call.spec) } };
    case 'stop-session':
      return { requestId, deadline, method: { $case: 'stopSession', value: { sessionId: call.sessionId } } };
    case 'stop-runner':
      return { requestId, deadline, method: { $case: 'stopRunner', value: {} } };
    case 'status':
      return { requestId, deadline, method: { $case: 'getStatus', value: {} } };
  }
}

/** RpcRequest -> domain call; undefined for a method this side does not know. */
export function relayCallFromProto(r: RpcRequest): RelayCall | undefined {
  switch (r.method?.$case) {
    case 'spawnSession':
      return { method: 'spawn', spec: spawnSpecFromProto(r.method.value) };
    case 'stopSession':
      return { method: 'stop-session', sessionId: r.method.value.sessionId };
    case 'stopRunner':
      return { method: 'stop-runner' };
    case 'getStatus':
      return { method: 'status' };
    default:
      return undefined;
  }
}

/** RpcResponse (non-error) -> domain result; undefined when empty. */
export function relayResultFromProto(r: RpcResponse): RelayResult | undefined {
  switch (r.result?.$case) {
    case 'spawnSession':
      return { method: 'spawn', outcome: spawnOutcomeFromProto(r.result.value) };
    case 'stopSession':
      return { method: 'stop-session', result: stopResultFromProto(r.result.value) };
    case 'stopRunner':
      return { method: 'stop-runner' };
    case 'getStatus':
      return { method: 'status', report: statusReportFromProto(r.result.value) };
    default:
      return undefined;
  }
}

export function relayResultToProto(requestId: string, r: RelayResult): RpcResponse {
  switch (r.method) {
    case 'spawn':
      return { requestId, result: { $case: 'spawnSession', value: spawnOutcomeToProto(r.outcome) } };
    case 'stop-session':
      return { requestId, result: { $case: 'stopSession', value: stopResultToProto(r.result) } };
    case 'stop-runner':
      return { requestId, result: { $case: 'stopRunner', value: true } };
    case 'status':
      return { requestId, result: { $case: 'getStatus', value: statusReportToProto(r.report) } };
  }
}
