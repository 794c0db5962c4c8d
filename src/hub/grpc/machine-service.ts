/**
 * MachineService.Connect: the runner's one bidirectional stream. Converts messages and
 * delegates to HubCore; everything it decides lives there.
 */
import { ServerError, Status, type CallContext } from 'nice-grpc';
import type { Logger } from 'pino';
import { metadataFromProto, metadataToProto, runnerStateFromProto, runnerStateToProto, sessionFromProto } from '../../contract/common.js';
import {
  attachStreamEventFromProto,
  attachStreamMessageToProto,
  openAttachToProto,
  relayCallToProto,
  relayResultFromProto,
  sessionActivityFromProto,
  sessionEventTypeFromProto,
  updateKindToProto,
  type AttachStreamRequest,
  type AttachStreamResponse,
  type ConnectRequest,
  type ConnectResponse,
  type MachineServiceImplementation,
} from '../../contract/machine-link.js';
import { fromStatusCode, toServerError } from '../../shared/grpc-errors.js';
import { HapiError, isHapiError } from '../../shared/errors.js';
import { createAsyncQueue } from '../../shared/async-queue.js';
import type { HubCore, MachineLink, RunnerBound, RunnerSink } from '../domain/hub-core.js';
import type { CallerContext } from './auth.js';

/** How long a new stream may take to send its hello. */
export const HELLO_TIMEOUT_MS = 10_000;
/** Outbound messages buffered per runner before the stream is considered stuck. */
const OUTBOUND_LIMIT = 1_000;

export function runnerBoundToProto(m: RunnerBound): ConnectResponse {
  switch (m.type) {
    case 'welcome':
      return {
        message: {
          $case: 'welcome',
          value: {
            namespace: m.namespace,
            metadataVersion: m.metadataVersion,
            runnerStateVersion: m.runnerStateVersion,
            aliveIntervalMs: m.aliveIntervalMs,
            protocolVersion: m.protocolVersion,
            linkId: m.linkId,
          },
        },
      };
    case 'open-attach':
      return { message: { $case: 'openAttach', value: openAttachToProto(m) } };
    case 'update-result': {
      if (m.kind === 'metadata') {
        const o = m.outcome;
        const kind = updateKindToProto('metadata');
        if (o.applied) return { message: { $case: 'updateResult', value: { kind, result: { $case: 'newVersion', value: o.version } } } };
        const value = { currentVersion: o.currentVersion, currentMetadata: metadataToProto(o.current) };
        return { message: { $case: 'updateResult', value: { kind, result: { $case: 'versionMismatch', value } } } };
      }
      const o = m.outcome;
      const kind = updateKindToProto('runner-state');
      if (o.applied) return { message: { $case: 'updateResult', value: { kind, result: { $case: 'newVersion', value: o.version } } } };
      const value = { currentVersion: o.currentVersion, currentRunnerState: runnerStateToProto(o.current) };
      return { message: { $case: 'updateResult', value: { kind, result: { $case: 'versionMismatch', value } } } };
    }
    case 'rpc':
      return { message: { $case: 'rpcRequest', value: relayCallToProto(m.requestId, m.deadline, m.call) } };
    case 'drain':
      return { message: { $case: 'drain', value: { reason: m.reason } } };
  }
}

function dispatch(link: MachineLink, req: ConnectRequest, log: Logger): void | Promise<void> {
  const msg = req.message;
  switch (msg?.$case) {
    case 'alive':
      return link.alive();
    case 'updateMetadata':
      return link.updateMetadata(msg.value.expectedVersion, metadataFromProto(msg.value.metadata));
    case 'updateRunnerState':
      return link.updateRunnerState(msg.value.expectedVersion, runnerStateFromProto(msg.value.runnerState));
    case 'rpcResponse': {
      const r = msg.value;
      if (r.result?.$case === 'error') return link.rpcResult(r.requestId, fromStatusCode(r.result.value.code, r.result.value.message));
      let result;
      try {
        result = relayResultFromProto(r);
      } catch (err) {
        return link.rpcResult(r.requestId, isHapiError(err) ? err : new HapiError('Internal', 'malformed runner answer'));
      }
      if (!result) return link.rpcResult(r.requestId, new HapiError('Internal', 'runner sent an empty answer'));
      return link.rpcResult(r.requestId, result);
    }
    case 'sessionEvent': {
      const { type, session } = msg.value;
      if (!session) return;
      return link.sessionEvent(sessionEventTypeFromProto(type), sessionFromProto(session));
    }
    case 'sessionActivity':
      return link.sessionActivity(sessionActivityFromProto(msg.value));
    case 'hello':
      log.warn({ machineId: link.machineId }, 'ignoring a second hello on the same stream');
      return;
    default:
      return;
  }
}

async function firstMessage<T>(it: AsyncIterator<T>, signal: AbortSignal): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      it.next().then((r) => (r.done ? undefined : r.value)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ServerError(Status.INVALID_ARGUMENT, `no hello within ${HELLO_TIMEOUT_MS} ms`)), HELLO_TIMEOUT_MS);
        onAbort = () => reject(signal.reason ?? new Error('aborted'));
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

export function createMachineService(core: HubCore, log: Logger): MachineServiceImplementation<CallerContext> {
  log = log.child({ c: 'machine-service' });
  return {
    async *connect(requests: AsyncIterable<ConnectRequest>, context: CallContext & CallerContext): AsyncGenerator<ConnectResponse> {
      const it = requests[Symbol.asyncIterator]();
      const first = await firstMessage(it, context.signal);
      if (first?.message?.$case !== 'hello') throw new ServerError(Status.INVALID_ARGUMENT, 'the first message must be hello');
      const hello = first.message.value;

      const out = createAsyncQueue<ConnectResponse>({ limit: OUTBOUND_LIMIT });
      let closeError: HapiError | undefined;
      const sink: RunnerSink = {
        send(m) {
          out.push(runnerBoundToProto(m));
        },
        close(err) {
          closeError ??= err;
          out.end();
        },
      };
      const link = await core.attachMachine(
        context.caller,
        {
          machineId: hello.machineId,
          metadata: metadataFromProto(hello.metadata),
          runnerState: runnerStateFromProto(hello.runnerState),
          protocolVersion: hello.protocolVersion,
          capabilities: hello.capabilities,
          sessions: hello.sessions.map(sessionFromProto),
          installFingerprint: hello.installFingerprint,
        },
        sink,
        context.signal,
      );
      const onAbort = () => {
        link.detach('stream cancelled');
        out.end();
      };
      context.signal.addEventListener('abort', onAbort, { once: true });
      void (async () => {
        try {
          for (;;) {
            const r = await it.next();
            if (r.done) break;
            try {
              // One message at a time: a stream's updates are stored in the order they came.
              await dispatch(link, r.value, log);
            } catch (err) {
              if (!isHapiError(err)) throw err;
              if (err.kind === 'Unavailable') {
                // Not recorded (the store is busy): end the stream; the runner reconnects with
                // backoff and its hello resends its whole state, so nothing is lost.
                log.warn({ err, machineId: link.machineId }, 'could not record a message from the runner: ending its stream');
                sink.close(err);
                break;
              }
              // A message this build cannot decode (enum rule in src/contract/common.ts): drop it, keep the stream.
              log.warn({ err, machineId: link.machineId }, 'dropped a malformed message from the runner');
            }
          }
          link.detach('runner closed the stream');
        } catch (err) {
          link.detach('stream failed');
          log.debug({ err, machineId: link.machineId }, 'runner stream read failed');
        } finally {
          out.end();
        }
      })();
      try {
        yield* out;
      } catch (err) {
        // The outbound queue overflowed: the runner does not read; drop it.
        closeError ??= new HapiError('ResourceExhausted', String((err as Error).message));
      } finally {
        context.signal.removeEventListener('abort', onAbort);
        link.detach('stream ended');
      }
      if (closeError) throw toServerError(closeError);
    },

    async *attachStream(requests: AsyncIterable<AttachStreamRequest>, context: CallContext & CallerContext): AsyncGenerator<AttachStreamResponse> {
      const it = requests[Symbol.asyncIterator]();
      const first = await firstMessage(it, context.signal);
      if (first?.message?.$case !== 'open') throw new ServerError(Status.INVALID_ARGUMENT, 'the first message must be open');
      const open = first.message.value;
      // Input and resizes are small; a runner that stops reading its attach stream is dropped.
      const out = createAsyncQueue<AttachStreamResponse>({ limit: OUTBOUND_LIMIT });
      let closeError: HapiError | undefined;
      const feed = await core.acceptAttachStream(context.caller, open, {
        send: (m) => void out.push(attachStreamMessageToProto(m)),
        close(err) {
          closeError ??= err;
          out.end();
        },
      });
      const onAbort = () => {
        feed.end(new HapiError('Unavailable', 'the runner cancelled the attach stream'));
        out.end();
      };
      context.signal.addEventListener('abort', onAbort, { once: true });
      void (async () => {
        try {
          for (;;) {
            const r = await it.next();
            if (r.done) break;
            const msg = r.value.message;
            if (msg?.$case === 'response') feed.event(attachStreamEventFromProto(msg.value));
            else if (msg?.$case === 'error') {
              feed.end(fromStatusCode(msg.value.code, msg.value.message));
              break;
            }
          }
          feed.end();
        } catch (err) {
          log.debug({ err, machineId: open.machineId }, 'attach stream read failed');
          feed.end(isHapiError(err) && err.kind !== 'Internal' ? err : new HapiError('Unavailable', 'the attach stream failed'));
        } finally {
          out.end();
        }
      })();
      try {
        yield* out;
      } catch (err) {
        closeError ??= new HapiError('ResourceExhausted', String((err as Error).message));
      } finally {
        context.signal.removeEventListener('abort', onAbort);
        feed.end(new HapiError('Unavailable', 'the attach stream ended'));
      }
      if (closeError) throw toServerError(closeError);
    },
  };
}
