import { describe, expect, it } from 'vitest';
import { metadataToProto, runnerStateToProto } from '../../contract/common.js';
import { updateKindToProto, type ConnectRequest } from '../../contract/machine-link.js';
import type { MachineMetadataInfo, RunnerStateInfo } from '../../contract/types.js';
import { createStatePublisher, type PublishedRunnerState } from './state-publisher.js';

const metadata: MachineMetadataInfo = { hostname: 'h', platform: 'linux', arch: 'x64', cliVersion: '1', displayName: 'h', homeDir: '/home/u', agents: ['claude'] };

function setup() {
  const runner: PublishedRunnerState = { pid: 7, startedAt: new Date(0), lastSpawnError: '', httpPort: 1 };
  const sent: ConnectRequest[] = [];
  const publisher = createStatePublisher({ metadata, runnerState: () => ({ ...runner }) });
  const states = () =>
    sent.flatMap((m) => (m.message?.$case === 'updateRunnerState' ? [{ expected: m.message.value.expectedVersion, state: m.message.value.runnerState! }] : []));
  return { runner, sent, publisher, states, send: (m: ConnectRequest) => void sent.push(m) };
}

const settled = async (p: Promise<unknown>) => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

const RUNNER_STATE = updateKindToProto('runner-state');
const METADATA = updateKindToProto('metadata');

const full = (s: PublishedRunnerState, extra: Partial<RunnerStateInfo> = {}): RunnerStateInfo => ({ ...s, status: 'running', shutdownReason: '', ...extra });

describe('hub link state publisher', () => {
  it('publishes a changed runner state once, from the version the hub gave, and only while attached', () => {
    const t = setup();
    expect(t.publisher.helloState()).toEqual(full(t.runner));
    t.runner.lastSpawnError = 'no such agent';
    t.publisher.publishIfChanged();
    expect(t.sent).toEqual([]); // not attached yet
    t.publisher.attach(t.send, { runnerStateVersion: 3, metadataVersion: 1 });
    t.publisher.publishIfChanged();
    t.publisher.publishIfChanged();
    expect(t.states()).toEqual([{ expected: 3, state: runnerStateToProto(full(t.runner)) }]);
    t.publisher.onUpdateResult({ kind: RUNNER_STATE, result: { $case: 'newVersion', value: 4 } });
    t.runner.lastSpawnError = '';
    t.publisher.detach();
    t.publisher.publishIfChanged();
    expect(t.states()).toHaveLength(1);
    t.publisher.attach(t.send, { runnerStateVersion: 4, metadataVersion: 1 });
    t.publisher.publishIfChanged();
    expect(t.states()[1]).toEqual({ expected: 4, state: runnerStateToProto(full(t.runner)) });
  });

  it('retries a stale runner-state update from the current version unless the hub already has it', () => {
    const t = setup();
    t.publisher.helloState();
    t.publisher.attach(t.send, { runnerStateVersion: 1, metadataVersion: 1 });
    const other = runnerStateToProto(full(t.runner, { lastSpawnError: 'other writer' }));
    t.publisher.onUpdateResult({ kind: RUNNER_STATE, result: { $case: 'versionMismatch', value: { currentVersion: 6, currentRunnerState: other } } });
    expect(t.states()).toEqual([{ expected: 6, state: runnerStateToProto(full(t.runner)) }]);
    // The hub already holds what we want: nothing to resend.
    const ours = runnerStateToProto(full(t.runner));
    t.publisher.onUpdateResult({ kind: RUNNER_STATE, result: { $case: 'versionMismatch', value: { currentVersion: 7, currentRunnerState: ours } } });
    expect(t.states()).toHaveLength(1);
  });

  it('resends its metadata after a stale metadata update, unless it matches', () => {
    const t = setup();
    t.publisher.attach(t.send, { runnerStateVersion: 1, metadataVersion: 1 });
    const stale = metadataToProto({ ...metadata, agents: [] });
    t.publisher.onUpdateResult({ kind: METADATA, result: { $case: 'versionMismatch', value: { currentVersion: 9, currentMetadata: stale } } });
    expect(t.sent).toEqual([{ message: { $case: 'updateMetadata', value: { expectedVersion: 9, metadata: metadataToProto(metadata) } } }]);
    t.publisher.onUpdateResult({ kind: METADATA, result: { $case: 'versionMismatch', value: { currentVersion: 10, currentMetadata: metadataToProto(metadata) } } });
    expect(t.sent).toHaveLength(1);
  });

  it('publishes new metadata (the agents found now) once, from the hub version; detached, the next hello carries it', () => {
    const t = setup();
    const withCodex = { ...metadata, agents: ['claude', 'codex'] };
    t.publisher.setMetadata(withCodex);
    expect(t.sent).toEqual([]);
    expect(t.publisher.metadata()).toEqual(withCodex);
    t.publisher.attach(t.send, { runnerStateVersion: 1, metadataVersion: 3 });
    t.publisher.setMetadata({ ...withCodex, agents: ['claude', 'codex'] });
    expect(t.sent).toEqual([]); // unchanged
    const onlyCodex = { ...metadata, agents: ['codex'] };
    t.publisher.setMetadata(onlyCodex);
    expect(t.sent).toEqual([{ message: { $case: 'updateMetadata', value: { expectedVersion: 3, metadata: metadataToProto(onlyCodex) } } }]);
    t.publisher.onUpdateResult({ kind: METADATA, result: { $case: 'newVersion', value: 4 } });
    t.publisher.setMetadata(metadata);
    expect(t.sent[1]).toEqual({ message: { $case: 'updateMetadata', value: { expectedVersion: 4, metadata: metadataToProto(metadata) } } });
  });

  it('publishes shutting-down with the reason and resolves once the hub took it', async () => {
    const t = setup();
    t.publisher.attach(t.send, { runnerStateVersion: 2, metadataVersion: 1 });
    const acked = t.publisher.shuttingDown('cli');
    expect(t.states()).toEqual([{ expected: 2, state: runnerStateToProto(full(t.runner, { status: 'shutting-down', shutdownReason: 'cli' })) }]);
    expect(await settled(acked)).toBe(false);
    // A stale write is retried first; its answer is the ack.
    const other = runnerStateToProto(full(t.runner, { lastSpawnError: 'x' }));
    t.publisher.onUpdateResult({ kind: RUNNER_STATE, result: { $case: 'versionMismatch', value: { currentVersion: 5, currentRunnerState: other } } });
    expect(t.states()[1]!.expected).toBe(5);
    expect(await settled(acked)).toBe(false);
    t.publisher.onUpdateResult({ kind: RUNNER_STATE, result: { $case: 'newVersion', value: 6 } });
    expect(await settled(acked)).toBe(true);
    expect(t.publisher.shuttingDown('again')).toBe(acked);
  });

  it('publishes shutting-down on welcome when shutdown began before the stream was welcomed', () => {
    const t = setup();
    t.publisher.helloState();
    void t.publisher.shuttingDown('hub');
    expect(t.sent).toEqual([]);
    t.publisher.attach(t.send, { runnerStateVersion: 1, metadataVersion: 1 });
    expect(t.states()).toEqual([{ expected: 1, state: runnerStateToProto(full(t.runner, { status: 'shutting-down', shutdownReason: 'hub' })) }]);
  });
});
