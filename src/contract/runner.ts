/**
 * RunnerService (proto/hapi/runner/v1): the definition and messages its transports use, and
 * the converters of its own messages. Part of the CLI's hot bundle (runner client commands and
 * the session process), so it imports nothing of the hub. Enum rule: see common.ts.
 */
import {
  HubLinkState,
  hubLinkStateToJSON,
  SessionEventKind,
  sessionEventKindToJSON,
  type AttachSessionRequest,
  type AttachSessionResponse,
  type GetSessionScreenResponse,
  type GetStatusResponse,
  type SessionEndedRequest,
  type SessionMetadata,
  type SessionStartedRequest,
  type SessionTerminal,
  type StopSessionRequest,
} from '../../gen/hapi/runner/v1/runner.js';
import { InvalidArgumentError } from '../shared/errors.js';
import { enumConverters, startedByFromProto, startedByToProto } from './common.js';
import { screenToProto, viewerEventToProto, viewerMessageFromProto } from './session.js';
import { exitStatusFromProto, exitStatusToProto, screenFromProto, viewerEventFromProto, viewerMessageToProto } from './session-viewer.js';
import type { ViewerEvent, ViewerMessage } from './session-types.js';
import {
  isValidSessionId,
  type HubLinkStateName,
  type RunnerStatusInfo,
  type SessionEnd,
  type SessionEventKind as SessionEventKindName,
  type SessionReport,
  type SessionScreenInfo,
  type SessionTerminalInfo,
  type StopTarget,
} from './types.js';

export {
  RunnerServiceDefinition,
  type AttachSessionRequest,
  type AttachSessionResponse,
  type GetStatusResponse,
  type ListSessionsResponse,
  type RunnerServiceImplementation,
  type SessionStartedRequest,
  type WatchSessionsResponse,
} from '../../gen/hapi/runner/v1/runner.js';

const hubLinkState = /* @__PURE__ */ enumConverters<HubLinkStateName, HubLinkState>('hub link state', {
  'not-configured': HubLinkState.HUB_LINK_STATE_NOT_CONFIGURED,
  connecting: HubLinkState.HUB_LINK_STATE_CONNECTING,
  connected: HubLinkState.HUB_LINK_STATE_CONNECTED,
  reconnecting: HubLinkState.HUB_LINK_STATE_RECONNECTING,
}, hubLinkStateToJSON);
/** Domain -> proto. */
export const hubLinkStateToProto = hubLinkState.toProto;
/** Proto -> domain; HUB_LINK_STATE_UNSPECIFIED or an unknown value is InvalidArgument. */
export const hubLinkStateFromProto = hubLinkState.fromProto;

const sessionEventKind = /* @__PURE__ */ enumConverters<SessionEventKindName, SessionEventKind>('session event kind', {
  started: SessionEventKind.SESSION_EVENT_KIND_STARTED,
  ended: SessionEventKind.SESSION_EVENT_KIND_ENDED,
  adopted: SessionEventKind.SESSION_EVENT_KIND_ADOPTED,
}, sessionEventKindToJSON);
/** Domain -> proto (WatchSessions). */
export const sessionEventKindToProto = sessionEventKind.toProto;
/** Proto -> domain; SESSION_EVENT_KIND_UNSPECIFIED or an unknown value is InvalidArgument. */
export const sessionEventKindFromProto = sessionEventKind.fromProto;

/** What a session process sends about itself (SessionStarted). */
export function sessionReportToProto(r: SessionReport): SessionStartedRequest {
  return {
    sessionId: r.sessionId,
    metadata: {
      hostPid: r.hostPid,
      startedBy: startedByToProto(r.startedBy),
      directory: r.directory ?? '',
      agent: r.agent ?? '',
      startedAt: r.startedAt,
    },
  };
}

export function sessionReportFromProto(sessionId: string, m: SessionMetadata | undefined): SessionReport {
  if (!m) throw new InvalidArgumentError('metadata is required');
  return {
    sessionId,
    hostPid: m.hostPid,
    startedBy: startedByFromProto(m.startedBy),
    directory: m.directory || undefined,
    agent: m.agent || undefined,
    startedAt: m.startedAt,
  };
}

/** A stop target as people write it (a session id, or a PID) -> StopSession's `target`. */
export function stopTargetToProto(t: StopTarget): StopSessionRequest['target'] {
  return 'pid' in t ? { $case: 'pid', value: t.pid } : { $case: 'sessionId', value: t.sessionId };
}

export function stopTargetFromProto(t: StopSessionRequest['target']): StopTarget {
  if (!t) throw new InvalidArgumentError('target (sessionId or pid) is required');
  return t.$case === 'sessionId' ? { sessionId: t.value } : { pid: t.value };
}

export function statusToProto(s: RunnerStatusInfo): GetStatusResponse {
  return {
    pid: s.pid,
    startedAt: s.startedAt,
    cliVersion: s.cliVersion,
    cliMtimeMs: s.cliMtimeMs,
    httpPort: s.httpPort,
    socketPath: s.socketPath,
    lastHeartbeat: s.lastHeartbeat,
    logPath: s.logPath,
    logWrites: {
      failing: s.logWrites.failing,
      lastError: s.logWrites.lastError ?? '',
      droppedLines: s.logWrites.droppedLines,
      lastFailureAt: s.logWrites.lastFailureAt,
    },
    counters: { ...s.counters },
    hubLink: {
      state: hubLinkStateToProto(s.hubLink.state),
      hubUrl: s.hubLink.hubUrl ?? '',
      lastError: s.hubLink.lastError ?? '',
      machineId: s.hubLink.machineId ?? '',
      namespace: s.hubLink.namespace ?? '',
      connectedSince: s.hubLink.connectedSince,
    },
    sessionCount: s.sessionCount,
    hapiHome: s.hapiHome,
    workspaceRoots: s.workspaceRoots,
    cliPath: s.cliPath,
    ready: s.ready,
  };
}

/** What a session sends when its agent exited (SessionEnded), with its final screen if any. */
export function sessionEndToProto(e: SessionEnd): SessionEndedRequest {
  return { sessionId: e.sessionId, exitCode: e.exitCode, exitSignal: e.exitSignal ?? '', finalScreen: e.finalScreen && screenToProto(e.finalScreen) };
}

export function sessionEndFromProto(r: SessionEndedRequest): SessionEnd {
  if (!r.sessionId) throw new InvalidArgumentError('sessionId is required');
  return { sessionId: r.sessionId, exitCode: r.exitCode, exitSignal: r.exitSignal || undefined, finalScreen: r.finalScreen && screenFromProto(r.finalScreen) };
}

export function sessionTerminalToProto(t: SessionTerminalInfo): SessionTerminal {
  return {
    attachable: t.attachable,
    protocolVersion: t.protocolVersion,
    viewers: t.viewers,
    lastOutputAt: t.lastOutputAt,
    ended: t.ended,
    exitStatus: t.exitStatus && exitStatusToProto(t.exitStatus),
    checkedAt: t.checkedAt,
    detail: t.detail ?? '',
  };
}

/** A missing entry (an older runner) reads as not attachable. */
export function sessionTerminalFromProto(t: SessionTerminal | undefined): SessionTerminalInfo {
  if (!t) return { attachable: false, protocolVersion: 0, viewers: 0, ended: false, detail: 'unknown to this runner' };
  return {
    attachable: t.attachable,
    protocolVersion: t.protocolVersion,
    viewers: t.viewers,
    lastOutputAt: t.lastOutputAt,
    ended: t.ended,
    exitStatus: t.exitStatus && exitStatusFromProto(t.exitStatus),
    checkedAt: t.checkedAt,
    detail: t.detail || undefined,
  };
}

/** One AttachSession client message, validated: the session id (may be empty after the first) and the viewer's message. */
export function attachSessionRequestFromProto(r: AttachSessionRequest): { sessionId: string; message: ViewerMessage } {
  if (r.sessionId !== '' && !isValidSessionId(r.sessionId)) throw new InvalidArgumentError('session_id is not a valid session id');
  if (!r.request) throw new InvalidArgumentError('AttachSession message without a request');
  return { sessionId: r.sessionId, message: viewerMessageFromProto(r.request) };
}

export function attachSessionRequestToProto(sessionId: string, m: ViewerMessage): AttachSessionRequest {
  return { sessionId, request: viewerMessageToProto(m) };
}

export function attachSessionResponseToProto(e: ViewerEvent): AttachSessionResponse {
  return { response: viewerEventToProto(e) };
}

export function attachSessionResponseFromProto(r: AttachSessionResponse): ViewerEvent {
  if (!r.response) throw new InvalidArgumentError('AttachSession response without a response');
  return viewerEventFromProto(r.response);
}

export function sessionScreenToProto(s: SessionScreenInfo): GetSessionScreenResponse {
  return {
    screen: s.screen && screenToProto(s.screen),
    ended: s.ended,
    exitStatus: s.exitStatus && exitStatusToProto(s.exitStatus),
    endedAt: s.endedAt,
  };
}

export function sessionScreenFromProto(r: GetSessionScreenResponse): SessionScreenInfo {
  return {
    screen: r.screen && screenFromProto(r.screen),
    ended: r.ended,
    exitStatus: r.exitStatus && exitStatusFromProto(r.exitStatus),
    endedAt: r.endedAt,
  };
}
