/**
 * The hub link's state publisher: keeps the hub's copy of this runner's state and metadata
 * current. Both are versioned on the hub: every update names the version it expects, and a
 * stale one is answered with the current value, from which the publisher retries unless the
 * hub already holds what it wants. It publishes whenever the state changed since it last sent
 * it (a spawn error, say), and on shutdown publishes "shutting-down" and reports the hub's ack.
 * The metadata changes only when the link looks again at what the machine has (its agents).
 */
import { metadataFromProto, metadataToProto, runnerStateFromProto, runnerStateToProto } from '../../contract/common.js';
import { updateKindFromProto, type ConnectRequest, type UpdateResult } from '../../contract/machine-link.js';
import type { MachineMetadataInfo, RunnerStateInfo } from '../../contract/types.js';

/** The runner state as the runner knows it; the publisher adds status and shutdown reason. */
export type PublishedRunnerState = Omit<RunnerStateInfo, 'status' | 'shutdownReason'>;

export interface StreamVersions {
  runnerStateVersion: number;
  metadataVersion: number;
}

export interface StatePublisherOptions {
  /** The metadata at start; setMetadata() replaces it. */
  metadata: MachineMetadataInfo;
  runnerState: () => PublishedRunnerState;
}

export interface StatePublisher {
  /** The runner state to put in a hello; remembered as sent. */
  helloState(): RunnerStateInfo;
  /** The hub welcomed a stream: publish through `send`, from these versions, until detach(). */
  attach(send: (msg: ConnectRequest) => void, versions: StreamVersions): void;
  /** The stream ended: nothing is sent until the next attach(). */
  detach(): void;
  /** Publishes the runner state if it changed since it was last sent. */
  publishIfChanged(): void;
  /** The metadata a hello carries (the latest setMetadata()). */
  metadata(): MachineMetadataInfo;
  /** From now on the machine's metadata is `m`: published at once when attached and different. */
  setMetadata(m: MachineMetadataInfo): void;
  /** The hub's answer to an update. InvalidArgument for an update kind this build does not know. */
  onUpdateResult(result: UpdateResult): void;
  /**
   * From now on the runner is shutting down (with `reason`): publishes that, and resolves once
   * the hub has taken it. Never resolves while no stream is attached.
   */
  shuttingDown(reason: string): Promise<void>;
}

/** Equal as the hub would store them: both sides through the same converters, so key order and defaults agree. */
const sameAs = <T>(current: T, ours: T) => JSON.stringify(current) === JSON.stringify(ours);
const asStoredState = (s: RunnerStateInfo) => runnerStateFromProto(runnerStateToProto(s));
const asStoredMetadata = (m: MachineMetadataInfo) => metadataFromProto(metadataToProto(m));

export function createStatePublisher(opts: StatePublisherOptions): StatePublisher {
  let send: ((msg: ConnectRequest) => void) | undefined;
  let runnerStateVersion = 0;
  let metadataVersion = 0;
  let closing: { reason: string; ack: () => void; acked: Promise<void> } | undefined;
  /** JSON of the runner state last sent, so a change is published once. */
  let lastSent = '';
  let metadata = opts.metadata;

  function publishMetadata(): void {
    send?.({ message: { $case: 'updateMetadata', value: { expectedVersion: metadataVersion, metadata: metadataToProto(metadata) } } });
  }

  const desired = (): RunnerStateInfo => ({
    ...opts.runnerState(),
    status: closing ? 'shutting-down' : 'running',
    shutdownReason: closing ? closing.reason : '',
  });

  function publish(): void {
    const state = desired();
    lastSent = JSON.stringify(state);
    send?.({ message: { $case: 'updateRunnerState', value: { expectedVersion: runnerStateVersion, runnerState: runnerStateToProto(state) } } });
  }

  function onRunnerState(result: UpdateResult['result']): void {
    if (result?.$case === 'newVersion') {
      runnerStateVersion = result.value;
      closing?.ack();
    } else if (result?.$case === 'versionMismatch') {
      // Someone else's write won: retry ours from the current version unless it already matches.
      runnerStateVersion = result.value.currentVersion;
      if (!sameAs(runnerStateFromProto(result.value.currentRunnerState), asStoredState(desired()))) publish();
      else closing?.ack();
    }
  }

  function onMetadata(result: UpdateResult['result']): void {
    if (result?.$case === 'newVersion') {
      metadataVersion = result.value;
    } else if (result?.$case === 'versionMismatch') {
      metadataVersion = result.value.currentVersion;
      if (!sameAs(metadataFromProto(result.value.currentMetadata), asStoredMetadata(metadata))) publishMetadata();
    }
  }

  return {
    helloState() {
      const state = desired();
      lastSent = JSON.stringify(state);
      return state;
    },
    attach(to, versions) {
      send = to;
      runnerStateVersion = versions.runnerStateVersion;
      metadataVersion = versions.metadataVersion;
      // The hello may have raced the start of shutdown: publish it if so.
      if (closing) publish();
    },
    detach() {
      send = undefined;
    },
    publishIfChanged() {
      if (send && JSON.stringify(desired()) !== lastSent) publish();
    },
    metadata: () => metadata,
    setMetadata(m) {
      if (sameAs(asStoredMetadata(m), asStoredMetadata(metadata))) return;
      metadata = m;
      publishMetadata();
    },
    onUpdateResult(r) {
      const kind = updateKindFromProto(r.kind);
      if (kind === 'runner-state') onRunnerState(r.result);
      else if (kind === 'metadata') onMetadata(r.result);
    },
    shuttingDown(reason) {
      if (closing) return closing.acked;
      let ack!: () => void;
      const acked = new Promise<void>((resolve) => (ack = resolve));
      closing = { reason, ack, acked };
      publish();
      return acked;
    },
  };
}
