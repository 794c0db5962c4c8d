/**
 * Converters between the generated proto messages and the hub/runner domain types. Used by
 * the hub's transports and by the runner's hub link, so both ends of the stream agree.
 */
import {
  RunnerStatus,
  SessionState,
  StartedBy,
  StopSessionResult,
  type MachineMetadata,
  type RunnerState,
  type Session,
  type SpawnSessionOutcome,
  type SpawnSessionSpec,
} from '../../gen/hapi/common/v1/common.js';
import type { Machine, TokenInfo } from '../../gen/hapi/hub/v1/hub.js';
import type { RpcRequest, RpcResponse, RunnerStatusReport } from '../../gen/hapi/hub/v1/machine.js';
import { InvalidArgumentError } from '../shared/errors.js';
import {
  sessionToProto as runnerSessionToProto,
  spawnSpecFromProto as runnerSpawnSpecFromProto,
  spawnSpecToProto,
  stopResultToProto,
} from '../runner/converters.js';
import type {
  HubSession,
  MachineMetadataInfo,
  MachineRecord,
  RelayCall,
  RelayResult,
  RunnerStateInfo,
  RunnerStatusReportInfo,
  SessionInfo,
  SpawnOutcome,
  SpawnSpec,
  TokenRecord,
} from './domain.js';

export function metadataFromProto(m: MachineMetadata | undefined): MachineMetadataInfo {
  return {
    hostname: m?.hostname ?? '',
    platform: m?.platform ?? '',
    arch: m?.arch ?? '',
    cliVersion: m?.cliVersion ?? '',
    displayName: m?.displayName ?? '',
    homeDir: m?.homeDir ?? '',
    agents: [...(m?.agents ?? [])],
  };
}

export function metadataToProto(m: MachineMetadataInfo): MachineMetadata {
  return { ...m, agents: [...m.agents] };
}

const STATUS_FROM: Record<number, RunnerStateInfo['status']> = {
  [RunnerStatus.RUNNER_STATUS_RUNNING]: 'running',
  [RunnerStatus.RUNNER_STATUS_SHUTTING_DOWN]: 'shutting-down',
};
const STATUS_TO: Record<RunnerStateInfo['status'], RunnerStatus> = {
  unspecified: RunnerStatus.RUNNER_STATUS_UNSPECIFIED,
  running: RunnerStatus.RUNNER_STATUS_RUNNING,
  'shutting-down': RunnerStatus.RUNNER_STATUS_SHUTTING_DOWN,
};

export function runnerStateFromProto(s: RunnerState | undefined): RunnerStateInfo {
  return {
    status: STATUS_FROM[s?.status ?? 0] ?? 'unspecified',
    pid: s?.pid ?? 0,
    startedAt: s?.startedAt,
    shutdownReason: s?.shutdownReason ?? '',
    lastSpawnError: s?.lastSpawnError ?? '',
    httpPort: s?.httpPort ?? 0,
  };
}

export function runnerStateToProto(s: RunnerStateInfo): RunnerState {
  return {
    status: STATUS_TO[s.status],
    pid: s.pid,
    startedAt: s.startedAt,
    shutdownReason: s.shutdownReason,
    lastSpawnError: s.lastSpawnError,
    httpPort: s.httpPort,
  };
}

const STATE_FROM: Record<number, SessionInfo['state']> = {
  [SessionState.SESSION_STATE_STARTING]: 'starting',
  [SessionState.SESSION_STATE_RUNNING]: 'running',
  [SessionState.SESSION_STATE_ENDED]: 'ended',
};
export function sessionFromProto(s: Session): SessionInfo {
  return {
    id: s.id,
    pid: s.pid,
    startedBy: s.startedBy === StartedBy.STARTED_BY_TERMINAL ? 'terminal' : 'runner',
    directory: s.directory,
    agent: s.agent,
    startedAt: s.startedAt ?? new Date(0),
    state: STATE_FROM[s.state] ?? 'running',
    endedAt: s.endedAt,
    exitCode: s.exitCode,
    exitSignal: s.exitSignal || undefined,
    worktree: s.worktree ? { ...s.worktree } : undefined,
  };
}

/** The runner's conversion, plus the machine a hub session runs on. */
export function sessionToProto(s: SessionInfo | HubSession): Session {
  return { ...runnerSessionToProto(s), machineId: 'machineId' in s ? s.machineId : '' };
}

export function machineToProto(m: MachineRecord): Machine {
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

export function tokenToProto(t: TokenRecord): TokenInfo {
  return { tokenId: t.id, namespace: t.namespace, label: t.label, createdAt: t.createdAt, owner: t.owner };
}

export { spawnSpecToProto };

/** Proto spec -> domain spec; the hub refuses a spec without a directory before relaying it. */
export { stopResultToProto };

export function spawnSpecFromProto(s: SpawnSessionSpec | undefined): SpawnSpec {
  if (!s || !s.directory) throw new InvalidArgumentError('spec.directory is required');
  return runnerSpawnSpecFromProto(s);
}

export function spawnOutcomeToProto(o: SpawnOutcome, machineId = ''): SpawnSessionOutcome {
  if (o.kind === 'session') {
    const session = sessionToProto(o.session);
    if (machineId) session.machineId = machineId;
    return { result: { $case: 'session', value: session } };
  }
  return { result: { $case: 'approvalRequired', value: { directory: o.directory, actionRequired: 'CREATE_DIRECTORY' } } };
}

export function spawnOutcomeFromProto(o: SpawnSessionOutcome | undefined): SpawnOutcome {
  switch (o?.result?.$case) {
    case 'session':
      return { kind: 'session', session: sessionFromProto(o.result.value) };
    case 'approvalRequired':
      return { kind: 'approval-required', directory: o.result.value.directory };
    default:
      throw new InvalidArgumentError('spawn outcome is empty');
  }
}

export function statusReportFromProto(r: RunnerStatusReport): RunnerStatusReportInfo {
  return { pid: r.pid, cliVersion: r.cliVersion, sessionCount: r.sessionCount, startedAt: r.startedAt };
}

export function statusReportToProto(r: RunnerStatusReportInfo): RunnerStatusReport {
  return { pid: r.pid, cliVersion: r.cliVersion, sessionCount: r.sessionCount, startedAt: r.startedAt };
}

export function stopResultFromProto(r: StopSessionResult): 'stopped' | 'already-gone' {
  return r === StopSessionResult.STOP_SESSION_RESULT_ALREADY_GONE ? 'already-gone' : 'stopped';
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
