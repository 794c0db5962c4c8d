/**
 * The runner's link to its hub: one MachineService.Connect stream, reopened forever with
 * capped exponential backoff and jitter (from the very first attempt), so local control keeps
 * working while the hub is away. On every (re)connect it sends hello with the machine id,
 * metadata, runner state and the live sessions; then alive messages and session events.
 * This file is the stream; the hub's relayed calls go through the relay handler to the
 * runner's service facade (RunnerControl), the versioned state updates through the state
 * publisher, and what the link sends on its own while connected is link-duties.ts.
 */
import { ClientError, Metadata, Status, type Channel } from 'nice-grpc';
import { describeClientError, retryPushbackOf } from '../../shared/grpc-errors.js';
import type { Logger } from 'pino';
import { metadataToProto, runnerStateToProto } from '../../contract/common.js';
import { clipText } from '../../contract/limits.js';
import {
  ATTACH_STREAM_CAPABILITY, MachineServiceDefinition, openAttachFromProto, type ConnectRequest, type ConnectResponse,
} from '../../contract/machine-link.js';
import { PROTOCOL_VERSION, type HubLinkStateName, type HubLinkStatus as HubLinkState, type MachineMetadataInfo, type SessionActivityInfo } from '../../contract/types.js';
import { createAsyncQueue, type AsyncQueue } from '../../shared/async-queue.js';
import { createBackoff, type BackoffOptions } from '../../shared/backoff.js';
import type { HubLinkConfig } from '../../shared/config.js';
import { isHapiError } from '../../shared/errors.js';
import { readAuthFile } from '../../shared/hub-client.js';
import { createHubAddresses } from './hub-addresses.js';
import type { HapiPaths } from '../../shared/paths.js';
import type { SessionEvent } from '../domain.js';
import type { RunnerControl } from '../runner-control.js';
import { realClock, waitAtMost, type HubLinkClock } from './clock.js';
import { installFingerprint, loadOrCreateMachineId } from './machine-id.js';
import { boundedHello, fitMessage, sessionEventMessage } from './outbound.js';
import { createLinkDuties } from './link-duties.js';
import { defaultMachineMetadata } from './machine-metadata.js';
import { createAttachOpener } from './attach-opener.js';
import { createAttachUpstreams } from './attach-upstream.js';
import { NO_COUNTERS, type RunnerCounters } from '../runner-counters.js';
import { createRelayHandler } from './relay-handler.js';
import { createStatePublisher } from './state-publisher.js';

export type { HubLinkClock };

/** How long close() waits for the hub to take shutting-down, and then for the stream to end. */
export const CLOSE_STEP_TIMEOUT_MS = 2_000;

/** Reconnect delays: from 0.5 s up to 30 s; a link that stayed up a minute starts over. */
export const HUB_LINK_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };

export interface HubLinkOptions {
  /** hubLinkConfig(): HAPI_API_URL and CLI_API_TOKEN. */
  config: HubLinkConfig;
  paths: HapiPaths;
  log: Logger;
  /**
   * The runner's service facade: relayed calls, the status and state published to the hub and
   * the sessions announced all come from it, exactly as for local callers.
   */
  control: RunnerControl;
  /** Static facts about this machine; defaults from the OS. */
  metadata?: Partial<MachineMetadataInfo>;
  /**
   * The agents this machine can run now (a PATH walk): looked at before every hello and every
   * `agentsRefreshMs` while connected, and published when they changed, so the page's agent
   * picker offers an agent installed (or configured) after the runner started.
   */
  agents?: () => string[];
  /** How often the agents are looked at while connected (default 60 s; the daemon uses its heartbeat interval). */
  agentsRefreshMs?: number;
  /**
   * The live terminals' activity for the page's session list (runner-terminals.ts): polled right
   * after each welcome with `fresh` (the hub keeps it in memory only), then every
   * `sessionActivityMs` (default SESSION_ACTIVITY_MS); what changed is sent as SessionActivity.
   */
  sessionActivity?: (fresh: boolean, only?: string[]) => Promise<SessionActivityInfo[]>;
  sessionActivityMs?: number;
  backoff?: Partial<Omit<BackoffOptions, 'now'>>;
  clock?: HubLinkClock;
  /** Override the alive cadence (ms); default is what the hub's welcome asks for (20 s). */
  aliveIntervalMs?: number;
  /** Reconnects, broken streams and relayed calls are counted here (`hapi runner status --json`). */
  counters?: RunnerCounters;
  /** For tests: build the channel yourself. */
  createChannel?: (url: string) => Channel;
}

/** How often a linked runner looks for terminal activity to report. */
export const SESSION_ACTIVITY_MS = 2_000;

export interface HubLink {
  /** For `hapi runner status`. */
  status(): HubLinkState;
  /** A session's activity changed: report it now, not at the next poll. */
  activityChanged(sessionId: string): void;
  /** Publishes shutting-down (with the reason), ends the stream and stops reconnecting. */
  close(reason: string): Promise<void>;
}

export { defaultMachineMetadata } from './machine-metadata.js';

export function createHubLink(opts: HubLinkOptions): HubLink {
  const log = opts.log.child({ c: 'hub-link' });
  const clock = opts.clock ?? realClock;
  const { control } = opts;
  const token = opts.config.token ?? readAuthFile(opts.paths)?.token;
  const saved = opts.config.token ? undefined : readAuthFile(opts.paths);
  // Several hub replicas: HAPI_API_URL lists them; the link uses one and moves on when it fails or drains.
  const hubUrls = saved?.hubUrl ? [saved.hubUrl] : opts.config.apiUrls?.length ? opts.config.apiUrls : [opts.config.apiUrl];
  let hubUrl = hubUrls[0]!;

  if (!token) {
    log.info('no hub token (CLI_API_TOKEN or `hapi auth login`): not connecting to a hub');
    return {
      status: () => ({ state: 'not-configured' }),
      activityChanged: () => undefined,
      close: async () => undefined,
    };
  }

  const machineId = loadOrCreateMachineId(opts.paths.machineIdFile);
  const initialMetadata = defaultMachineMetadata(opts.metadata);
  const fingerprint = installFingerprint(opts.paths.home);
  const backoffOptions = { ...HUB_LINK_BACKOFF, ...opts.backoff, now: clock.now };
  const backoff = createBackoff(backoffOptions);
  const stopLoop = new AbortController();
  const addresses = createHubAddresses(hubUrls, opts.createChannel);
  /** The next address for the next attempt (one address: the same one). */
  const moveOn = () => {
    addresses.moveOn();
    hubUrl = addresses.url;
  };
  /** Set by the hub's Drain: the next attempt goes to another address at once, without backoff. */
  let drained = false;
  const callMetadata = Metadata({ authorization: `Bearer ${token}` });
  const counters = opts.counters ?? NO_COUNTERS;
  const relay = createRelayHandler({ control, log, clock, counters });
  const publisher = createStatePublisher({
    metadata: initialMetadata,
    runnerState: () => {
      const s = control.status();
      return { pid: s.pid, startedAt: s.startedAt, lastSpawnError: clipText(s.lastSpawnError ?? '', 4096), httpPort: s.httpPort };
    },
  });

  // Attach streams go to the hub this link is connected to (their link id is that hub's).
  const upstreams = createAttachUpstreams(token);
  const attaches = createAttachOpener({ control, upstreams, hubUrl: () => addresses.url, machineId, log });
  /** Welcome.link_id of the current stream: attach streams name it. */
  let linkId: string | undefined;

  let state: HubLinkStateName = 'connecting';
  let lastError: string | undefined;
  let namespace: string | undefined;
  let connectedSince: Date | undefined;
  let welcomes = 0;
  let closing = false;
  /** The current stream's outbound queue, while connected. */
  let out: AsyncQueue<ConnectRequest> | undefined;

  /** Every message to the hub stays within the link's bound (outbound.ts). */
  const send = (msg: ConnectRequest) => {
    if (!out) return;
    const fitted = fitMessage(msg, log);
    if (fitted) out.push(fitted);
  };

  const duties = createLinkDuties({
    publisher,
    send,
    canSend: () => state === 'connected' && !closing,
    log,
    agents: opts.agents,
    agentsRefreshMs: opts.agentsRefreshMs,
    sessionActivity: opts.sessionActivity,
    sessionActivityMs: opts.sessionActivityMs ?? SESSION_ACTIVITY_MS,
  });

  function onSessionEvent(e: SessionEvent): void {
    // Until welcome (and while closing) events are dropped: the hello carries the live list and
    // the hub reconciles (sessions it had as running that are missing are marked ended).
    if (state !== 'connected' || closing) return;
    const msg = sessionEventMessage(e.kind, e.session, log);
    if (msg) send(msg);
    publisher.publishIfChanged();
  }

  async function answer(req: Parameters<typeof relay.handle>[0]): Promise<void> {
    send({ message: { $case: 'rpcResponse', value: await relay.handle(req) } });
    publisher.publishIfChanged();
  }

  function onMessage(msg: ConnectResponse): void {
    const m = msg.message;
    if (m?.$case === 'rpcRequest') void answer(m.value);
    else if (m?.$case === 'updateResult') publisher.onUpdateResult(m.value);
    else if (m?.$case === 'openAttach' && linkId) attaches.open(linkId, openAttachFromProto(m.value));
    else if (m?.$case === 'drain') {
      log.info({ hubUrl, reason: m.value.reason }, 'the hub is draining: moving to another hub address');
      drained = true;
      // Ending our side ends the stream; the loop reconnects (to the next address) at once.
      out?.end();
      streamAbort?.abort();
    }
  }
  /** Aborts the current stream (Drain). */
  let streamAbort: AbortController | undefined;
  /** The hub's retry pushback on the last stream (a busy hub refusing a connect says when to come back). */
  let pushbackMs: number | undefined;

  /** One stream, from hello until it ends. Resolves normally when closed by us. */
  async function runStream(): Promise<void> {
    const queue = createAsyncQueue<ConnectRequest>({ limit: 10_000 });
    const abort = new AbortController();
    streamAbort = abort;
    const onStop = () => abort.abort();
    stopLoop.signal.addEventListener('abort', onStop, { once: true });
    let unwatch: (() => void) | undefined;
    try {
      // Like any caller, the link waits here while the runner is still starting.
      const watch = await control.watchSessions(onSessionEvent, abort.signal);
      unwatch = watch.unsubscribe;
      duties.refreshAgents();
      // As many live sessions as fit in one message; the rest follow the welcome as events.
      const { hello, later } = boundedHello(
        {
          machineId,
          metadata: metadataToProto(publisher.metadata()),
          runnerState: runnerStateToProto(publisher.helloState()),
          protocolVersion: PROTOCOL_VERSION,
          capabilities: ['spawn-approval', 'worktree', ATTACH_STREAM_CAPABILITY],
          installFingerprint: fingerprint,
        },
        watch.sessions,
        log,
      );
      queue.push(hello);
      const onTrailer = (trailer: Metadata) => (pushbackMs = retryPushbackOf(trailer));
      const responses = addresses.client().connect(queue, { metadata: callMetadata, signal: abort.signal, onTrailer });
      let welcomed = false;
      for await (const msg of responses) {
        if (welcomed) {
          try {
            onMessage(msg);
          } catch (err) {
            // A message this build cannot decode (enum rule in src/contract/common.ts): drop it, keep the link.
            if (!isHapiError(err)) throw err;
            log.warn({ err }, 'dropped a malformed message from the hub');
          }
          continue;
        }
        if (msg.message?.$case !== 'welcome') throw new Error('hub did not answer hello with welcome');
        const w = msg.message.value;
        welcomed = true;
        if (welcomes++ > 0) counters.count('hubReconnects');
        namespace = w.namespace;
        linkId = w.linkId || undefined;
        out = queue;
        state = 'connected';
        connectedSince = new Date(clock.now());
        lastError = undefined;
        backoff.succeeded();
        publisher.attach(send, { runnerStateVersion: w.runnerStateVersion, metadataVersion: w.metadataVersion });
        for (const s of later) {
          const adopted = sessionEventMessage('adopted', s, log);
          if (adopted) send(adopted);
        }
        duties.start(opts.aliveIntervalMs ?? (w.aliveIntervalMs > 0 ? w.aliveIntervalMs : 20_000));
        log.info({ hubUrl, machineId, namespace }, 'connected to the hub');
      }
      if (!stopLoop.signal.aborted && !closing) throw new Error('hub closed the stream');
    } finally {
      duties.stop();
      unwatch?.();
      if (linkId) attaches.closeLink(linkId);
      linkId = undefined;
      stopLoop.signal.removeEventListener('abort', onStop);
      if (out === queue) {
        out = undefined;
        publisher.detach();
      }
      queue.end();
      connectedSince = undefined;
    }
  }

  const loop = (async () => {
    // A stream that ends while closing is the end: close() half-closed it on purpose.
    while (!stopLoop.signal.aborted && !closing) {
      let refused = false;
      pushbackMs = undefined;
      try {
        await runStream();
      } catch (err) {
        if (stopLoop.signal.aborted || closing) break;
        if (drained) {
          drained = false;
          moveOn();
          state = 'reconnecting';
          continue;
        }
        refused = err instanceof ClientError && err.code === Status.FAILED_PRECONDITION;
        lastError = describeClientError(err);
        counters.count('hubLinkFailures');
        log.warn({ hubUrl, err: lastError }, (state as HubLinkStateName) === 'connected' ? 'lost the hub link' : 'cannot connect to the hub');
        // Several addresses: the next attempt tries the next one.
        moveOn();
      }
      if (stopLoop.signal.aborted || closing) break;
      state = 'reconnecting';
      // Refused for a cause that retrying soon cannot fix (another install holds this machine
      // id): wait the longest delay rather than knock again and again.
      // A busy hub's retry hint (already spread at random by the hub) is a floor under the backoff.
      const delay = Math.max(refused ? Math.max(backoff.failed(), backoffOptions.maxMs) : backoff.failed(), pushbackMs ?? 0);
      log.debug({ delayMs: delay, attempt: backoff.attempt }, 'reconnecting to the hub');
      await clock.sleep(delay, stopLoop.signal);
    }
  })();

  return {
    status: () => ({ state, hubUrl, lastError, machineId, namespace, connectedSince }),
    activityChanged: (sessionId) => duties.reportActivity(false, [sessionId]),
    async close(reason) {
      if (closing) return;
      closing = true;
      const acked = publisher.shuttingDown(reason);
      if (state === 'connected' && out) {
        // Wait (briefly) for the hub to take shutting-down, then half-close; the hub then ends the stream.
        await waitAtMost(clock, acked, CLOSE_STEP_TIMEOUT_MS);
        out?.end();
        await waitAtMost(clock, loop, CLOSE_STEP_TIMEOUT_MS);
      }
      stopLoop.abort();
      await loop;
      addresses.close();
      upstreams.close();
      log.info({ reason }, 'hub link closed');
    },
  };
}
