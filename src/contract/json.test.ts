import { describe, expect, it } from 'vitest';
import { machineToJson, sessionToJson } from './json.js';
import { machineToProto } from './hub.js';
import { sessionToProto } from './common.js';

describe('contract JSON', () => {
  it('writes every field of a machine at its default value, null for unset times and sub-messages', () => {
    expect(machineToJson({ id: 'm', metadataVersion: 0, runnerStateVersion: 0, online: false })).toEqual({
      id: 'm',
      metadata: null,
      metadataVersion: 0,
      runnerState: null,
      runnerStateVersion: 0,
      online: false,
      lastAlive: null,
      onlineSince: null,
    });
  });

  it('fills defaults inside sub-messages and keeps set values as proto3 JSON writes them', () => {
    const json = machineToJson({
      id: 'm',
      metadata: { hostname: 'h', platform: '', arch: '', cliVersion: '', displayName: '', homeDir: '', agents: [] },
      metadataVersion: 3,
      runnerState: { status: 1, pid: 0, shutdownReason: '', lastSpawnError: '', httpPort: 0, startedAt: new Date(0) },
      runnerStateVersion: 0,
      online: true,
    });
    expect(json.metadata).toEqual({ hostname: 'h', platform: '', arch: '', cliVersion: '', displayName: '', homeDir: '', agents: [] });
    expect(json.runnerState).toEqual({ status: 'RUNNER_STATUS_RUNNING', pid: 0, startedAt: '1970-01-01T00:00:00.000Z', shutdownReason: '', lastSpawnError: '', httpPort: 0, lostAt: null });
    expect(json.online).toBe(true);
  });

  it('writes every field of a session; an exit code of 0 is kept, an unknown one is null', () => {
    const base = { id: 's', pid: 0, startedBy: 0, directory: '', agent: '', state: 0, exitSignal: '', machineId: '', lastLine: '' };
    expect(sessionToJson(base)).toEqual({
      id: 's',
      pid: 0,
      startedBy: 'STARTED_BY_UNSPECIFIED',
      directory: '',
      agent: '',
      startedAt: null,
      state: 'SESSION_STATE_UNSPECIFIED',
      endedAt: null,
      exitCode: null,
      exitSignal: '',
      worktree: null,
      machineId: '',
      lastOutputAt: null,
      lastLine: '',
      activity: null,
    });
    expect(sessionToJson({ ...base, exitCode: 0, worktree: { path: '/w', branch: '', repository: '' } })).toMatchObject({
      exitCode: 0,
      worktree: { path: '/w', branch: '', repository: '' },
    });
    // A pending approval request: every field of the activity and of each request is there.
    const activity = { state: 3, guess: false, message: '', requests: [{ id: 'r', tool: 'Bash', command: 'ls', file: '', choices: [1, 2], description: '', atTerminal: false }], source: 'claude-hooks' };
    expect(sessionToJson({ ...base, activity } as never)).toMatchObject({
      activity: {
        state: 'ACTIVITY_STATE_NEEDS_APPROVAL',
        guess: false,
        message: '',
        since: null,
        requests: [{ id: 'r', tool: 'Bash', command: 'ls', file: '', choices: ['APPROVAL_DECISION_ALLOW', 'APPROVAL_DECISION_DENY'], requestedAt: null, description: '', atTerminal: false }],
      },
    });
  });
});
