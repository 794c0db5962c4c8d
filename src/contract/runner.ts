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
  type GetStatusResponse,
  type SessionMetadata,
  type SessionStartedRequest,
  type StopSessionRequest,
} from '../../gen/hapi/runner/v1/runner.js';
import { InvalidArgumentError } from '../shared/errors.js';
import { enumConverters, startedByFromProto, startedByToProto } from './common.js';
import type { HubLinkStateName, RunnerStatusInfo, SessionEventKind as SessionEventKindName, SessionReport, StopTarget } from './types.js';

export {
  RunnerServiceDefinition,
  type GetStatusResponse,
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
