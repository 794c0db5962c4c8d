import { describe, expect, it } from 'vitest';
import { RunnerStatus, SessionState, StartedBy, StopSessionResult } from '../../gen/hapi/common/v1/common.js';
import { HubLinkState } from '../../gen/hapi/runner/v1/runner.js';
import { SessionEventType, UpdateKind } from '../../gen/hapi/hub/v1/machine.js';
import { isHapiError } from '../shared/errors.js';
import {
  runnerStateFromProto,
  runnerStateToProto,
  sessionFromProto,
  sessionStateFromProto,
  sessionToProto,
  spawnOutcomeFromProto,
  spawnOutcomeToProto,
  spawnSpecFromProto,
  spawnSpecToProto,
  startedByFromProto,
  startedByToProto,
  stopResultFromProto,
  stopResultToProto,
} from './common.js';
import { machineToProto, ProtoTokenScope, tokenScopeFromProto, tokenScopeJson, tokenScopeToProto } from './hub.js';
import {
  relayCallFromProto,
  relayCallToProto,
  relayResultFromProto,
  relayResultToProto,
  sessionEventTypeFromProto,
  sessionEventTypeToProto,
  updateKindFromProto,
} from './machine-link.js';
import { hubLinkStateFromProto, sessionReportFromProto, sessionReportToProto, stopTargetFromProto, stopTargetToProto } from './runner.js';
import { isValidSessionId, parseStopTarget, type RelayCall, type RelayResult, type SessionInfo } from './types.js';

const invalidArgument = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return isHapiError(err) && err.kind === 'InvalidArgument';
  }
  return false;
};

const session: SessionInfo = {
  id: 's-1',
  pid: 42,
  startedBy: 'terminal',
  directory: '/w',
  agent: 'codex',
  startedAt: new Date('2026-01-01T00:00:00Z'),
  state: 'ended',
  endedAt: new Date('2026-01-01T00:01:00Z'),
  exitCode: 0,
  exitSignal: 'SIGTERM',
  worktree: { path: '/w/.wt', branch: 'b', repository: '/w' },
};

describe('enum rule: encoding is total, decoding refuses UNSPECIFIED and unknown values', () => {
  it('round-trips every domain value', () => {
    for (const s of ['runner', 'terminal'] as const) expect(startedByFromProto(startedByToProto(s))).toBe(s);
    for (const r of ['stopped', 'already-gone'] as const) expect(stopResultFromProto(stopResultToProto(r))).toBe(r);
    for (const k of ['started', 'ended', 'adopted'] as const) expect(sessionEventTypeFromProto(sessionEventTypeToProto(k))).toBe(k);
  });

  it('answers InvalidArgument for the zero value and for unknown numbers', () => {
    expect(invalidArgument(() => startedByFromProto(StartedBy.STARTED_BY_UNSPECIFIED))).toBe(true);
    expect(invalidArgument(() => startedByFromProto(7 as StartedBy))).toBe(true);
    expect(invalidArgument(() => sessionStateFromProto(SessionState.SESSION_STATE_UNSPECIFIED))).toBe(true);
    expect(invalidArgument(() => stopResultFromProto(StopSessionResult.STOP_SESSION_RESULT_UNSPECIFIED))).toBe(true);
    expect(invalidArgument(() => hubLinkStateFromProto(HubLinkState.HUB_LINK_STATE_UNSPECIFIED))).toBe(true);
    expect(invalidArgument(() => sessionEventTypeFromProto(SessionEventType.SESSION_EVENT_TYPE_UNSPECIFIED))).toBe(true);
    expect(invalidArgument(() => updateKindFromProto(UpdateKind.UPDATE_KIND_UNSPECIFIED))).toBe(true);
  });

  it('names the allowed values in the message', () => {
    expect(() => startedByFromProto(StartedBy.STARTED_BY_UNSPECIFIED)).toThrow(
      'startedBy must be STARTED_BY_RUNNER or STARTED_BY_TERMINAL, got STARTED_BY_UNSPECIFIED',
    );
  });

  it('keeps RunnerStatus UNSPECIFIED, which has a domain meaning', () => {
    expect(runnerStateFromProto(undefined).status).toBe('unspecified');
    expect(runnerStateFromProto({ ...runnerStateToProto(runnerStateFromProto(undefined)), status: RunnerStatus.RUNNER_STATUS_UNSPECIFIED }).status).toBe('unspecified');
    expect(invalidArgument(() => runnerStateFromProto({ ...runnerStateToProto(runnerStateFromProto(undefined)), status: 9 as RunnerStatus }))).toBe(true);
  });

  it('reads TokenScope UNSPECIFIED as full (tokens and clients from before scopes); refuses unknown numbers', () => {
    for (const s of ['full', 'read-only'] as const) expect(tokenScopeFromProto(tokenScopeToProto(s))).toBe(s);
    expect(tokenScopeFromProto(ProtoTokenScope.TOKEN_SCOPE_UNSPECIFIED)).toBe('full');
    expect(tokenScopeFromProto(undefined)).toBe('full');
    expect(invalidArgument(() => tokenScopeFromProto(7 as ProtoTokenScope))).toBe(true);
    expect(tokenScopeJson('read-only')).toBe('TOKEN_SCOPE_READ_ONLY');
  });
});

describe('messages', () => {
  it('round-trips a session, with the machine id only where it is known', () => {
    expect(sessionToProto(session).machineId).toBe('');
    expect(sessionToProto({ ...session, machineId: 'm-1' }).machineId).toBe('m-1');
    expect(sessionFromProto(sessionToProto(session))).toEqual(session);
  });

  it('round-trips spawn specs and outcomes; a missing spec is InvalidArgument', () => {
    const spec = { directory: '/w', agent: 'codex', sessionId: 'x', approveCreateDirectory: true, worktree: { branch: 'b' }, requestId: 'r', agentArgs: ['--a'] };
    expect(spawnSpecFromProto(spawnSpecToProto(spec))).toEqual(spec);
    expect(invalidArgument(() => spawnSpecFromProto(undefined))).toBe(true);
    const outcome = spawnOutcomeToProto({ kind: 'session', session }, 'm-1');
    expect(outcome.result?.$case === 'session' && outcome.result.value.machineId).toBe('m-1');
    expect(spawnOutcomeFromProto(outcome)).toEqual({ kind: 'session', session });
    expect(spawnOutcomeFromProto(spawnOutcomeToProto({ kind: 'approval-required', directory: '/new' }))).toEqual({ kind: 'approval-required', directory: '/new' });
  });

  it('round-trips session reports and stop targets', () => {
    const report = { sessionId: 's', hostPid: 7, startedBy: 'runner' as const, directory: '/w', agent: 'claude', startedAt: new Date(1) };
    const req = sessionReportToProto(report);
    expect(sessionReportFromProto(req.sessionId, req.metadata)).toEqual(report);
    expect(invalidArgument(() => sessionReportFromProto('s', undefined))).toBe(true);
    for (const t of [{ sessionId: 'a' }, { pid: 9 }]) expect(stopTargetFromProto(stopTargetToProto(t))).toEqual(t);
    expect(invalidArgument(() => stopTargetFromProto(undefined))).toBe(true);
  });

  it('round-trips every relayed call and result', () => {
    const calls: RelayCall[] = [
      { method: 'spawn', spec: { directory: '/w', approveCreateDirectory: false, agentArgs: [] } },
      { method: 'stop-session', sessionId: 's' },
      { method: 'stop-runner' },
      { method: 'status' },
    ];
    for (const c of calls) expect(relayCallFromProto(relayCallToProto('r', new Date(0), c))).toMatchObject(c);
    const results: RelayResult[] = [
      { method: 'spawn', outcome: { kind: 'session', session } },
      { method: 'stop-session', result: 'already-gone' },
      { method: 'stop-runner' },
      { method: 'status', report: { pid: 1, cliVersion: '1', sessionCount: 2, startedAt: new Date(3) } },
    ];
    for (const r of results) expect(relayResultFromProto(relayResultToProto('r', r))).toEqual(r);
  });

  it('converts a machine record without its hub-only fields', () => {
    const m = machineToProto({
      id: 'm',
      metadata: { hostname: 'h', platform: 'linux', arch: 'x64', cliVersion: '1', displayName: 'd', homeDir: '/h', agents: ['claude'] },
      metadataVersion: 2,
      runnerState: { status: 'running', pid: 1, shutdownReason: '', lastSpawnError: '', httpPort: 80 },
      runnerStateVersion: 3,
      online: true,
    });
    expect(m).toMatchObject({ id: 'm', metadataVersion: 2, runnerStateVersion: 3, online: true, runnerState: { status: RunnerStatus.RUNNER_STATUS_RUNNING } });
  });
});

describe('shared rules', () => {
  it('session ids: letters, digits, . _ -, 1-128, not starting with punctuation', () => {
    expect(isValidSessionId('abc-1.2_3')).toBe(true);
    expect(isValidSessionId('a'.repeat(128))).toBe(true);
    expect(isValidSessionId('a'.repeat(129))).toBe(false);
    expect(isValidSessionId('-a')).toBe(false);
    expect(isValidSessionId('a/b')).toBe(false);
    expect(isValidSessionId('')).toBe(false);
  });

  it('stop targets: a session id or PID-<n>', () => {
    expect(parseStopTarget('PID-12')).toEqual({ pid: 12 });
    expect(parseStopTarget('s-1')).toEqual({ sessionId: 's-1' });
    expect(invalidArgument(() => parseStopTarget(' '))).toBe(true);
  });
});
