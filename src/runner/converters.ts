/** Converters between the runner's domain types and the generated proto messages. */
import {
  SessionState, StartedBy, StopSessionResult,
  type Session, type SpawnSessionOutcome, type SpawnSessionSpec,
} from '../../gen/hapi/common/v1/common.js';
import { HubLinkState, type GetStatusResponse, type SessionMetadata } from '../../gen/hapi/runner/v1/runner.js';
import { InvalidArgumentError } from '../shared/errors.js';
import type { SessionInfo, SpawnOutcome, SpawnSpec, StartedBy as DomainStartedBy, StopResult, SessionReport } from './domain.js';
import type { HubLinkStateName, RunnerStatusInfo } from './runner-control.js';

export function startedByToProto(s: DomainStartedBy): StartedBy {
  return s === 'runner' ? StartedBy.STARTED_BY_RUNNER : StartedBy.STARTED_BY_TERMINAL;
}

export function startedByFromProto(s: StartedBy): DomainStartedBy {
  switch (s) {
    case StartedBy.STARTED_BY_RUNNER:
      return 'runner';
    case StartedBy.STARTED_BY_TERMINAL:
      return 'terminal';
    default:
      throw new InvalidArgumentError('metadata.startedBy must be STARTED_BY_RUNNER or STARTED_BY_TERMINAL');
  }
}

const STATE_TO_PROTO = {
  starting: SessionState.SESSION_STATE_STARTING,
  running: SessionState.SESSION_STATE_RUNNING,
  ended: SessionState.SESSION_STATE_ENDED,
} as const;

export function sessionToProto(s: SessionInfo): Session {
  return {
    id: s.id,
    pid: s.pid,
    startedBy: startedByToProto(s.startedBy),
    directory: s.directory,
    agent: s.agent,
    startedAt: s.startedAt,
    state: STATE_TO_PROTO[s.state],
    endedAt: s.endedAt,
    exitCode: s.exitCode,
    exitSignal: s.exitSignal ?? '',
    worktree: s.worktree ? { ...s.worktree } : undefined,
    machineId: '',
  };
}

export function spawnSpecFromProto(spec: SpawnSessionSpec | undefined): SpawnSpec {
  if (!spec) throw new InvalidArgumentError('spec is required');
  return {
    directory: spec.directory,
    agent: spec.agent || undefined,
    sessionId: spec.sessionId || undefined,
    approveCreateDirectory: spec.approveCreateDirectory,
    worktree: spec.worktree ? { branch: spec.worktree.branch || undefined } : undefined,
    requestId: spec.requestId || undefined,
    agentArgs: [...spec.agentArgs],
  };
}

export function spawnSpecToProto(spec: SpawnSpec): SpawnSessionSpec {
  return {
    directory: spec.directory,
    agent: spec.agent ?? '',
    sessionId: spec.sessionId ?? '',
    approveCreateDirectory: spec.approveCreateDirectory,
    worktree: spec.worktree ? { branch: spec.worktree.branch ?? '' } : undefined,
    requestId: spec.requestId ?? '',
    agentArgs: spec.agentArgs,
  };
}

export function spawnOutcomeToProto(o: SpawnOutcome): SpawnSessionOutcome {
  return o.kind === 'session'
    ? { result: { $case: 'session', value: sessionToProto(o.session) } }
    : { result: { $case: 'approvalRequired', value: { directory: o.directory, actionRequired: 'CREATE_DIRECTORY' } } };
}

export function stopResultToProto(r: StopResult['result']): StopSessionResult {
  return r === 'stopped' ? StopSessionResult.STOP_SESSION_RESULT_STOPPED : StopSessionResult.STOP_SESSION_RESULT_ALREADY_GONE;
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

const LINK_TO_PROTO: Record<HubLinkStateName, HubLinkState> = {
  'not-configured': HubLinkState.HUB_LINK_STATE_NOT_CONFIGURED,
  connecting: HubLinkState.HUB_LINK_STATE_CONNECTING,
  connected: HubLinkState.HUB_LINK_STATE_CONNECTED,
  reconnecting: HubLinkState.HUB_LINK_STATE_RECONNECTING,
};

export function hubLinkStateFromProto(s: HubLinkState): HubLinkStateName {
  const found = Object.entries(LINK_TO_PROTO).find(([, v]) => v === s);
  return (found?.[0] as HubLinkStateName | undefined) ?? 'not-configured';
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
    hubLink: {
      state: LINK_TO_PROTO[s.hubLink.state],
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
