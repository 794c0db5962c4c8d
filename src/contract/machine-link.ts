/**
 * MachineService.Connect (proto/hapi/hub/v1/machine.proto): the one stream between a runner
 * and its hub. The definition and messages both ends need, and the converters of the stream's
 * own messages (relayed calls and their results, status reports, session event types, update
 * kinds). Both ends use these same functions, so they agree on every message. Enum rule: see
 * common.ts.
 */
import { activityFromProto, activityToProto, approvalDecisionCallFromProto, approvalDecisionCallToProto, approvalRequestFromProto, approvalRequestToProto } from './activity.js';
import { Session } from '../../gen/hapi/common/v1/common.js';
import {
  ConnectRequest,
  SessionEventType,
  sessionEventTypeToJSON,
  UpdateKind,
  updateKindToJSON,
  type AttachStreamRequest,
  type OpenAttach,
  type RpcRequest,
  type RpcResponse,
  type RunnerStatusReport,
  type SessionActivity,
} from '../../gen/hapi/hub/v1/machine.js';
import type { AttachHello, ViewerEvent, ViewerMessage } from './session-types.js';
import { sessionInputFromProto, viewerEventToProto, viewerMessageFromProto } from './session.js';
import { attachHelloToProto, sessionInputToProto, viewerEventFromProto, viewerMessageToProto } from './session-viewer.js';
import { sessionScreenFromProto, sessionScreenToProto } from './runner.js';
import { InvalidArgumentError } from '../shared/errors.js';
import {
  enumConverters,
  spawnOutcomeFromProto,
  spawnOutcomeToProto,
  spawnSpecFromProto,
  spawnSpecToProto,
  stopResultFromProto,
  stopResultToProto,
} from './common.js';
import { MAX_ACTIVITY_LINE_CHARS, type RelayCall, type RelayResult, type RunnerStatusReportInfo, type SessionActivityInfo, type SessionEventKind, type UpdateKindName } from './types.js';

export {
  MachineServiceDefinition,
  type AttachStreamRequest,
  type AttachStreamResponse,
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
    case 'session-screen':
      return { requestId, deadline, method: { $case: 'getSessionScreen', value: { sessionId: call.sessionId } } };
    case 'send-input':
      return { requestId, deadline, method: { $case: 'sendInput', value: { sessionId: call.sessionId, input: sessionInputToProto(call.input) } } };
    case 'decide-approval':
      return { requestId, deadline, method: { $case: 'decideApproval', value: { sessionId: call.sessionId, decision: approvalDecisionCallToProto(call.decision) } } };
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
    case 'getSessionScreen':
      return { method: 'session-screen', sessionId: r.method.value.sessionId };
    case 'sendInput': {
      const input = r.method.value.input;
      if (!input) throw new InvalidArgumentError('send_input without input');
      return { method: 'send-input', sessionId: r.method.value.sessionId, input: sessionInputFromProto(input) };
    }
    case 'decideApproval':
      return { method: 'decide-approval', sessionId: r.method.value.sessionId, decision: approvalDecisionCallFromProto(r.method.value.decision) };
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
    case 'sessionScreen':
      return { method: 'session-screen', screen: sessionScreenFromProto(r.result.value) };
    case 'sendInput':
      return { method: 'send-input' };
    case 'decideApproval':
      return { method: 'decide-approval', request: approvalRequestFromProto(r.result.value) };
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
    case 'session-screen':
      return { requestId, result: { $case: 'sessionScreen', value: sessionScreenToProto(r.screen) } };
    case 'send-input':
      return { requestId, result: { $case: 'sendInput', value: true } };
    case 'decide-approval':
      return { requestId, result: { $case: 'decideApproval', value: approvalRequestToProto(r.request) } };
  }
}

/** What the runner's hub link announces when it opens attach streams on the hub's request. */
export const ATTACH_STREAM_CAPABILITY = 'attach-stream';

/** The hub's request to open an attach stream, as the runner reads it. */
export interface OpenAttachInfo {
  attachId: string;
  sessionId: string;
  hello: AttachHello;
}

export function openAttachToProto(o: OpenAttachInfo): OpenAttach {
  return { attachId: o.attachId, sessionId: o.sessionId, hello: attachHelloToProto(o.hello) };
}

/** INVALID_ARGUMENT for a request without a valid hello. */
export function openAttachFromProto(o: OpenAttach): OpenAttachInfo {
  if (!o.hello) throw new InvalidArgumentError('open_attach without a hello');
  const m = viewerMessageFromProto({ kind: { $case: 'hello', value: o.hello } });
  if (m.kind !== 'hello') throw new InvalidArgumentError('open_attach without a hello');
  // A viewer through the hub is never a person's own terminal on this machine.
  return { attachId: o.attachId, sessionId: o.sessionId, hello: { ...m.hello, localTerminal: undefined } };
}

/** Runner -> hub on an attach stream: one of the session's answers. */
export function attachStreamEventToProto(e: ViewerEvent): AttachStreamRequest {
  return { message: { $case: 'response', value: viewerEventToProto(e) } };
}

/** One hub -> runner message of an attach stream, validated as the session would. */
export function attachStreamMessageFromProto(r: { request?: Parameters<typeof viewerMessageFromProto>[0] }): ViewerMessage {
  if (!r.request) throw new InvalidArgumentError('attach stream message without a request');
  return viewerMessageFromProto(r.request);
}

export function attachStreamMessageToProto(m: ViewerMessage) {
  return { request: viewerMessageToProto(m) };
}

export { viewerEventFromProto as attachStreamEventFromProto };
/** The runner's SessionActivity message for these entries. */
export function sessionActivityMessage(entries: SessionActivityInfo[]): ConnectRequest {
  return {
    message: {
      $case: 'sessionActivity',
      value: { sessions: entries.map((e) => ({ sessionId: e.sessionId, lastOutputAt: e.lastOutputAt, lastLine: e.lastLine, activity: e.activity && activityToProto(e.activity) })) },
    },
  };
}

/** What the hub takes from a SessionActivity: entries with a session id, lines cut to 200 characters. */
export function sessionActivityFromProto(m: SessionActivity): SessionActivityInfo[] {
  return m.sessions
    .filter((e) => e.sessionId)
    .map((e) => ({ sessionId: e.sessionId, lastOutputAt: e.lastOutputAt, lastLine: e.lastLine.slice(0, MAX_ACTIVITY_LINE_CHARS), activity: readActivity(e.activity) }));
}

/** A malformed activity (an enum this build does not know) is dropped, the rest of the entry kept. */
function readActivity(a: SessionActivity['sessions'][number]['activity']) {
  try {
    return activityFromProto(a);
  } catch {
    return undefined;
  }
}
