/**
 * The runner's link to its hub: one MachineService.Connect stream, reopened forever with
 * capped exponential backoff and jitter (from the very first attempt), so local control keeps
 * working while the hub is away. On every (re)connect it sends hello with the machine id,
 * metadata, runner state and the live sessions; then alive messages, versioned state updates
 * and session events, and it answers the hub's relayed RPCs through the SessionManager.
 */
import { hostname, homedir } from 'node:os';
import { createClient, Metadata, type Channel } from 'nice-grpc';
import type { Logger } from 'pino';
import type { HubLinkConfig } from '../../shared/config.js';
import { HapiError, isHapiError } from '../../shared/errors.js';
import { grpcStatusOf } from '../../shared/grpc-errors.js';
import type { HapiPaths } from '../../shared/paths.js';
import { CLI_VERSION } from '../../shared/version.js';
import { createAsyncQueue, type AsyncQueue } from '../../shared/async-queue.js';
import { createHubChannel, readAuthFile } from '../../shared/hub-client.js';
import { metadataFromProto, metadataToProto, runnerStateFromProto, runnerStateToProto, sessionToProto } from '../../contract/common.js';
import {
  MachineServiceDefinition,
  relayCallFromProto,
  relayResultToProto,
  sessionEventTypeToProto,
  updateKindFromProto,
  type ConnectRequest,
  type ConnectResponse,
  type RpcRequest,
} from '../../contract/machine-link.js';
import {
  PROTOCOL_VERSION,
  type HubLinkStateName,
  type HubLinkStatus as HubLinkState,
  type MachineMetadataInfo,
  type RelayResult,
  type RunnerStateInfo,
  type RunnerStatusReportInfo,
} from '../../contract/types.js';
import type { SessionEvent, SessionManager } from '../domain.js';
import { createBackoff, type BackoffOptions } from '../../shared/backoff.js';
import { loadOrCreateMachineId } from './machine-id.js';


export interface HubLinkClock {
  now(): number;
  /** Resolves after ms, or early when the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export interface HubLinkOptions {
  /** hubLinkConfig(): HAPI_API_URL and CLI_API_TOKEN. */
  config: HubLinkConfig;
  paths: HapiPaths;
  log: Logger;
  /** Static facts about this machine; defaults from the OS. */
  metadata?: Partial<MachineMetadataInfo>;
  /** The runner's state as it should be published (status is managed by the link). */
  getRunnerState: () => Omit<RunnerStateInfo, 'status' | 'shutdownReason'> & Partial<Pick<RunnerStateInfo, 'shutdownReason'>>;
  sessions: SessionManager;
  /** The hub asked the runner to stop (sessions keep running). */
  onStopRunner: (reason: 'hub') => void;
  /** Answer to the hub's status request. */
  getStatus: () => RunnerStatusReportInfo;
  backoff?: Partial<Omit<BackoffOptions, 'now'>>;
  clock?: HubLinkClock;
  /** Override the alive cadence (ms); default is what the hub's welcome asks for (20 s). */
  aliveIntervalMs?: number;
  /** For tests: build the channel yourself. */
  createChannel?: (url: string) => Channel;
}

export interface HubLink {
  /** For `hapi runner status`. */
  status(): HubLinkState;
  /** Publishes shutting-down (with the reason), ends the stream and stops reconnecting. */
  close(reason: string): Promise<void>;
}

/** Reconnect delays: from 0.5 s up to 30 s; a link that stayed up a minute starts over. */
export const HUB_LINK_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };

const realClock: HubLinkClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    }),
};

export function defaultMachineMetadata(partial: Partial<MachineMetadataInfo> = {}): MachineMetadataInfo {
  const host = hostname();
  return {
    hostname: host,
    platform: process.platform,
    arch: process.arch,
    cliVersion: CLI_VERSION,
    displayName: host,
    homeDir: homedir(),
    agents: [],
    ...partial,
  };
}

/** The link's own error for an RPC that is past its deadline. */
class RpcDeadlineError extends HapiError {
  constructor() {
    super('DeadlineExceeded', 'the hub’s deadline passed before the runner finished');
  }
}

export function createHubLink(opts: HubLinkOptions): HubLink {
  const log = opts.log.child({ c: 'hub-link' });
  const clock = opts.clock ?? realClock;
  const token = opts.config.token ?? readAuthFile(opts.paths)?.token;
  const saved = opts.config.token ? undefined : readAuthFile(opts.paths);
  const hubUrl = saved?.hubUrl || opts.config.apiUrl;

  if (!token) {
    log.info('no hub token (CLI_API_TOKEN or `hapi auth login`): not connecting to a hub');
    return {
      status: () => ({ state: 'not-configured' }),
      close: async () => undefined,
    };
  }

  const machineId = loadOrCreateMachineId(opts.paths.machineIdFile);
  const metadata = defaultMachineMetadata(opts.metadata);
  const backoff = createBackoff({ ...HUB_LINK_BACKOFF, ...opts.backoff, now: clock.now });
  const stopLoop = new AbortController();
  const channel = (opts.createChannel ?? createHubChannel)(hubUrl);
  const client = createClient(MachineServiceDefinition, channel);
  const callMetadata = Metadata({ authorization: `Bearer ${token}` });

  let state: HubLinkStateName = 'connecting';
  let lastError: string | undefined;
  let namespace: string | undefined;
  let connectedSince: Date | undefined;
  let closing: { reason: string } | undefined;
  /** The current stream's outbound queue, while connected. */
  let out: AsyncQueue<ConnectRequest> | undefined;
  let runnerStateVersion = 0;
  let metadataVersion = 0;
  let shutdownAck: (() => void) | undefined;

  const desiredState = (): RunnerStateInfo => ({
    ...opts.getRunnerState(),
    status: closing ? 'shutting-down' : 'running',
    shutdownReason: closing ? closing.reason : '',
  });

  function send(msg: ConnectRequest): void {
    out?.push(msg);
  }

  /** JSON of the runner state last sent, so changes (e.g. lastSpawnError) are published once. */
  let lastSentState = '';

  function sendState(): void {
    const desired = desiredState();
    lastSentState = JSON.stringify(desired);
    send({ message: { $case: 'updateRunnerState', value: { expectedVersion: runnerStateVersion, runnerState: runnerStateToProto(desired) } } });
  }

  /** Publishes the runner state if it changed since it was last sent (spawn errors, ...). */
  function sendStateIfChanged(): void {
    if (state === 'connected' && JSON.stringify(desiredState()) !== lastSentState) sendState();
  }

  const unsubscribe = opts.sessions.subscribe((e) => {
    // While disconnected events are dropped: the next hello carries the live list and the hub
    // reconciles (sessions it had as running that are missing are marked ended).
    if (state !== 'connected') return;
    send({ message: { $case: 'sessionEvent', value: { type: sessionEventTypeToProto(e.kind), session: sessionToProto(e.session) } } });
    sendStateIfChanged();
  });

  async function answer(req: RpcRequest): Promise<void> {
    const started = clock.now();
    const deadlineMs = req.deadline ? req.deadline.getTime() - Date.now() : 60_000;
    let result: RelayResult;
    try {
      const call = relayCallFromProto(req);
      if (!call) throw new HapiError('InvalidArgument', 'unknown relayed method');
      if (deadlineMs <= 0) throw new RpcDeadlineError();
      const work = (async (): Promise<RelayResult> => {
        switch (call.method) {
          case 'spawn':
            return { method: 'spawn', outcome: await opts.sessions.spawn(call.spec) };
          case 'stop-session':
            return { method: 'stop-session', result: (await opts.sessions.stop({ sessionId: call.sessionId })).result };
          case 'stop-runner':
            // Answer first, then stop: the hub hears "accepted" before the stream closes.
            setImmediate(() => opts.onStopRunner('hub'));
            return { method: 'stop-runner' };
          case 'status':
            return { method: 'status', report: opts.getStatus() };
        }
      })();
      let timer: NodeJS.Timeout | undefined;
      result = await Promise.race([
        work,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new RpcDeadlineError()), deadlineMs);
        }),
      ]).finally(() => clearTimeout(timer));
    } catch (err) {
      const known = isHapiError(err);
      if (!known) log.error({ err, requestId: req.requestId }, 'relayed call failed unexpectedly');
      send({
        message: {
          $case: 'rpcResponse',
          value: {
            requestId: req.requestId,
            result: {
              $case: 'error',
              value: { code: known ? grpcStatusOf(err.kind) : grpcStatusOf('Internal'), message: known ? err.message : 'internal error' },
            },
          },
        },
      });
      sendStateIfChanged();
      return;
    }
    log.debug({ requestId: req.requestId, method: result.method, ms: clock.now() - started }, 'answered relayed call');
    send({ message: { $case: 'rpcResponse', value: relayResultToProto(req.requestId, result) } });
    sendStateIfChanged();
  }

  function onMessage(msg: ConnectResponse): void {
    const m = msg.message;
    switch (m?.$case) {
      case 'welcome':
        return; // handled by runStream
      case 'rpcRequest':
        void answer(m.value);
        return;
      case 'updateResult': {
        const r = m.value;
        const kind = updateKindFromProto(r.kind);
        if (r.result?.$case === 'newVersion') {
          if (kind === 'runner-state') {
            runnerStateVersion = r.result.value;
            if (closing) shutdownAck?.();
          } else if (kind === 'metadata') metadataVersion = r.result.value;
          return;
        }
        if (r.result?.$case === 'versionMismatch') {
          const mm = r.result.value;
          if (kind === 'runner-state') {
            // Someone else's write won: retry ours from the current version unless it already matches.
            runnerStateVersion = mm.currentVersion;
            const current = runnerStateFromProto(mm.currentRunnerState);
            if (JSON.stringify(current) !== JSON.stringify(desiredState())) sendState();
            else if (closing) shutdownAck?.();
          } else if (kind === 'metadata') {
            metadataVersion = mm.currentVersion;
            if (JSON.stringify(metadataFromProto(mm.currentMetadata)) !== JSON.stringify(metadata)) {
              send({ message: { $case: 'updateMetadata', value: { expectedVersion: metadataVersion, metadata: metadataToProto(metadata) } } });
            }
          }
        }
        return;
      }
      default:
        return;
    }
  }

  /** One stream, from hello until it ends. Resolves normally when closed by us. */
  async function runStream(): Promise<void> {
    const queue = createAsyncQueue<ConnectRequest>({ limit: 10_000 });
    const abort = new AbortController();
    const onStop = () => abort.abort();
    stopLoop.signal.addEventListener('abort', onStop, { once: true });
    let aliveTimer: NodeJS.Timeout | undefined;
    const helloState = desiredState();
    lastSentState = JSON.stringify(helloState);
    queue.push({
      message: {
        $case: 'hello',
        value: {
          machineId,
          metadata: metadataToProto(metadata),
          runnerState: runnerStateToProto(helloState),
          protocolVersion: PROTOCOL_VERSION,
          capabilities: ['spawn-approval', 'worktree'],
          sessions: opts.sessions.list().map(sessionToProto),
        },
      },
    });
    try {
      const responses = client.connect(queue, { metadata: callMetadata, signal: abort.signal });
      let welcomed = false;
      for await (const msg of responses) {
        if (!welcomed) {
          if (msg.message?.$case !== 'welcome') throw new Error('hub did not answer hello with welcome');
          const w = msg.message.value;
          welcomed = true;
          namespace = w.namespace;
          runnerStateVersion = w.runnerStateVersion;
          metadataVersion = w.metadataVersion;
          out = queue;
          state = 'connected';
          connectedSince = new Date(clock.now());
          lastError = undefined;
          backoff.succeeded();
          const every = opts.aliveIntervalMs ?? (w.aliveIntervalMs > 0 ? w.aliveIntervalMs : 20_000);
          aliveTimer = setInterval(() => {
            send({ message: { $case: 'alive', value: { time: new Date() } } });
            // Also picks up state changes made outside the link (spawns over local control).
            sendStateIfChanged();
          }, every);
          aliveTimer.unref();
          log.info({ hubUrl, machineId, namespace }, 'connected to the hub');
          // The hello may have raced a state change (e.g. close() began): publish ours if so.
          if (closing) sendState();
          continue;
        }
        try {
          onMessage(msg);
        } catch (err) {
          // A message this build cannot decode (enum rule in src/contract/common.ts): drop it, keep the link.
          if (!isHapiError(err)) throw err;
          log.warn({ err }, 'dropped a malformed message from the hub');
        }
      }
      if (!stopLoop.signal.aborted && !closing) throw new Error('hub closed the stream');
    } finally {
      clearInterval(aliveTimer);
      stopLoop.signal.removeEventListener('abort', onStop);
      if (out === queue) out = undefined;
      queue.end();
      connectedSince = undefined;
    }
  }

  const loop = (async () => {
    // A stream that ends while closing is the end: close() half-closed it on purpose.
    while (!stopLoop.signal.aborted && !closing) {
      try {
        await runStream();
      } catch (err) {
        if (stopLoop.signal.aborted || closing) break;
        lastError = describe(err);
        log.warn({ hubUrl, err: lastError }, (state as HubLinkStateName) === 'connected' ? 'lost the hub link' : 'cannot connect to the hub');
      }
      if (stopLoop.signal.aborted || closing) break;
      state = 'reconnecting';
      const delay = backoff.failed();
      log.debug({ delayMs: delay, attempt: backoff.attempt }, 'reconnecting to the hub');
      await clock.sleep(delay, stopLoop.signal);
    }
  })();

  return {
    status: () => ({ state, hubUrl, lastError, machineId, namespace, connectedSince }),
    async close(reason) {
      if (closing) return;
      closing = { reason };
      unsubscribe();
      if (state === 'connected' && out) {
        // Publish shutting-down and wait (briefly) for the hub to take it, then half-close.
        const acked = new Promise<void>((r) => (shutdownAck = r));
        sendState();
        await Promise.race([acked, clock.sleep(2_000, new AbortController().signal)]);
        out?.end();
        await Promise.race([loop, clock.sleep(2_000, new AbortController().signal)]);
      }
      stopLoop.abort();
      await loop;
      channel.close();
      log.info({ reason }, 'hub link closed');
    },
  };
}

function describe(err: unknown): string {
  if (err && typeof err === 'object' && 'details' in err && typeof (err as { details: unknown }).details === 'string') {
    const e = err as { code?: number; details: string };
    return e.details || `gRPC status ${e.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}
