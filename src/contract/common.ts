/**
 * Converters for the shared messages of proto/hapi/common/v1 (sessions, spawn, stop results,
 * machine metadata, runner state), used by the runner, the hub and the CLI alike, plus the
 * generated message types that transports need.
 *
 * Enum rule (every enum of the contract, here and in runner.ts / machine-link.ts): each enum
 * has one `xToProto` and one `xFromProto`. Encoding is total. Decoding reads input from the
 * other side of the contract, and every sender of this contract sets its enums; so the zero
 * value (`*_UNSPECIFIED`) and numbers this build does not know are a broken message, refused
 * with InvalidArgumentError, whoever receives them. Stream readers that must keep going past
 * one broken message catch that error at their edge and drop the message. The only exception
 * is RunnerStatus, whose zero value has a domain meaning ('unspecified': no state published).
 */
import {
  RunnerStatus,
  SessionState,
  StartedBy,
  StopSessionResult,
  runnerStatusToJSON,
  sessionStateToJSON,
  startedByToJSON,
  stopSessionResultToJSON,
  type MachineMetadata,
  type RunnerState,
  type Session,
  type SpawnSessionOutcome,
  type SpawnSessionSpec,
} from '../../gen/hapi/common/v1/common.js';
import { InvalidArgumentError } from '../shared/errors.js';
import type { AgentActivityInfo } from './activity-types.js';
import { activityToProto } from './activity.js';
import type {
  MachineMetadataInfo,
  RunnerStateInfo,
  SessionInfo,
  SessionStateName,
  SpawnOutcome,
  SpawnSpec,
  StartedBy as StartedByName,
  StopResult,
} from './types.js';

export { Session, type SpawnSessionSpec } from '../../gen/hapi/common/v1/common.js';

/**
 * Builds the pair of converters of one enum from its table. `fromProto` follows the enum rule
 * above: an unknown number (UNSPECIFIED included, unless the table maps it) is InvalidArgument.
 */
export function enumConverters<N extends string, P extends number>(what: string, table: Record<N, P>, protoName: (p: P) => string) {
  const byNumber = new Map<number, N>(Object.entries(table).map(([name, n]) => [n as number, name as N]));
  const allowed = (Object.values(table) as P[]).map(protoName).join(' or ');
  return {
    toProto: (name: N): P => table[name],
    fromProto(n: P): N {
      const name = byNumber.get(n);
      if (name === undefined) throw new InvalidArgumentError(`${what} must be ${allowed}, got ${protoName(n)}`);
      return name;
    },
  };
}

const startedBy = /* @__PURE__ */ enumConverters<StartedByName, StartedBy>('startedBy', {
  runner: StartedBy.STARTED_BY_RUNNER,
  terminal: StartedBy.STARTED_BY_TERMINAL,
}, startedByToJSON);
/** Domain -> proto. */
export const startedByToProto = startedBy.toProto;
/** Proto -> domain; STARTED_BY_UNSPECIFIED or an unknown value is InvalidArgument. */
export const startedByFromProto = startedBy.fromProto;

const sessionState = /* @__PURE__ */ enumConverters<SessionStateName, SessionState>('session state', {
  starting: SessionState.SESSION_STATE_STARTING,
  running: SessionState.SESSION_STATE_RUNNING,
  ended: SessionState.SESSION_STATE_ENDED,
}, sessionStateToJSON);
/** Domain -> proto. */
export const sessionStateToProto = sessionState.toProto;
/** Proto -> domain; SESSION_STATE_UNSPECIFIED or an unknown value is InvalidArgument. */
export const sessionStateFromProto = sessionState.fromProto;

const stopResult = /* @__PURE__ */ enumConverters<StopResult['result'], StopSessionResult>('stop result', {
  stopped: StopSessionResult.STOP_SESSION_RESULT_STOPPED,
  'already-gone': StopSessionResult.STOP_SESSION_RESULT_ALREADY_GONE,
}, stopSessionResultToJSON);
/** Domain -> proto. */
export const stopResultToProto = stopResult.toProto;
/** Proto -> domain; STOP_SESSION_RESULT_UNSPECIFIED or an unknown value is InvalidArgument. */
export const stopResultFromProto = stopResult.fromProto;

const runnerStatus = /* @__PURE__ */ enumConverters<RunnerStateInfo['status'], RunnerStatus>('runner status', {
  unspecified: RunnerStatus.RUNNER_STATUS_UNSPECIFIED,
  running: RunnerStatus.RUNNER_STATUS_RUNNING,
  'shutting-down': RunnerStatus.RUNNER_STATUS_SHUTTING_DOWN,
  lost: RunnerStatus.RUNNER_STATUS_LOST,
}, runnerStatusToJSON);

/**
 * A session; `machineId` is set where the hub knows the machine it runs on, the terminal's
 * activity (last output, last line) where the hub knows it (SessionActivity).
 */
export function sessionToProto(s: SessionInfo & { machineId?: string; lastOutputAt?: Date; lastLine?: string; activity?: AgentActivityInfo }): Session {
  return {
    id: s.id,
    pid: s.pid,
    startedBy: startedByToProto(s.startedBy),
    directory: s.directory,
    agent: s.agent,
    startedAt: s.startedAt,
    state: sessionStateToProto(s.state),
    endedAt: s.endedAt,
    exitCode: s.exitCode,
    exitSignal: s.exitSignal ?? '',
    worktree: s.worktree ? { ...s.worktree } : undefined,
    machineId: s.machineId ?? '',
    lastOutputAt: s.lastOutputAt,
    lastLine: s.lastLine ?? '',
    activity: s.activity && activityToProto(s.activity),
  };
}

/** A session as another process reported it; the machine id is the receiver's business. */
export function sessionFromProto(s: Session): SessionInfo {
  return {
    id: s.id,
    pid: s.pid,
    startedBy: startedByFromProto(s.startedBy),
    directory: s.directory,
    agent: s.agent,
    startedAt: s.startedAt ?? new Date(0),
    state: sessionStateFromProto(s.state),
    endedAt: s.endedAt,
    exitCode: s.exitCode,
    exitSignal: s.exitSignal || undefined,
    worktree: s.worktree ? { ...s.worktree } : undefined,
  };
}

/** Proto spec -> domain spec. The spec itself is required; its fields are validated by the domain. */
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
    prompt: spec.prompt || undefined,
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
    prompt: spec.prompt ?? '',
  };
}

/** `machineId`, when given, is stamped on the spawned session (the hub knows it, the runner does not). */
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

/** An absent state reads as 'unspecified' (nothing published yet). */
export function runnerStateFromProto(s: RunnerState | undefined): RunnerStateInfo {
  return {
    status: runnerStatus.fromProto(s?.status ?? RunnerStatus.RUNNER_STATUS_UNSPECIFIED),
    pid: s?.pid ?? 0,
    startedAt: s?.startedAt,
    shutdownReason: s?.shutdownReason ?? '',
    lastSpawnError: s?.lastSpawnError ?? '',
    httpPort: s?.httpPort ?? 0,
    lostAt: s?.status === RunnerStatus.RUNNER_STATUS_LOST ? s.lostAt : undefined,
  };
}

export function runnerStateToProto(s: RunnerStateInfo): RunnerState {
  return {
    status: runnerStatus.toProto(s.status),
    pid: s.pid,
    startedAt: s.startedAt,
    shutdownReason: s.shutdownReason,
    lastSpawnError: s.lastSpawnError,
    httpPort: s.httpPort,
    lostAt: s.status === 'lost' ? s.lostAt : undefined,
  };
}
