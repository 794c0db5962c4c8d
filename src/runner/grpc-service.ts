/**
 * RunnerService over gRPC: decode, call the runner's service facade (RunnerControl), encode.
 * No logic here.
 */
import type { CallContext } from 'nice-grpc';
import { sessionToProto, spawnOutcomeToProto, spawnSpecFromProto, stopResultToProto } from '../contract/common.js';
import {
  attachSessionRequestFromProto,
  attachSessionResponseToProto,
  sessionEndFromProto,
  sessionEventKindToProto,
  sessionReportFromProto,
  sessionScreenToProto,
  sessionTerminalToProto,
  statusToProto,
  stopTargetFromProto,
  type AttachSessionRequest,
  type AttachSessionResponse,
  type RunnerServiceImplementation,
  type WatchSessionsResponse,
} from '../contract/runner.js';
import type { ViewerMessage } from '../contract/session-types.js';
import { approvalDecisionCallFromProto, approvalRequestToProto } from '../contract/activity.js';
import { createAsyncQueue } from '../shared/async-queue.js';
import { InvalidArgumentError, UnavailableError } from '../shared/errors.js';
import { createStreamTerminator } from '../shared/stream-terminator.js';
import type { SessionEvent } from './domain.js';
import type { RunnerControl } from './runner-control.js';

const eventToProto = (e: SessionEvent): WatchSessionsResponse => ({ kind: sessionEventKindToProto(e.kind), session: sessionToProto(e.session) });

export interface RunnerGrpcService {
  impl: RunnerServiceImplementation;
  /** Ends every open WatchSessions stream (so server shutdown can finish). */
  endStreams(): void;
}

export function createRunnerGrpcService(control: RunnerControl): RunnerGrpcService {
  const terminator = createStreamTerminator();

  // Session calls wait while the runner is still starting, bounded by the call's deadline.
  const impl: RunnerServiceImplementation = {
    async getStatus() {
      return statusToProto(control.status());
    },
    async listSessions(req, context) {
      const { sessions, terminals } = await control.listSessionTerminals({ includeEnded: req.includeEnded }, context.signal);
      return { sessions: sessions.map((s) => sessionToProto({ ...s, activity: terminals.get(s.id)?.activity })), terminals: Object.fromEntries([...terminals].map(([id, t]) => [id, sessionTerminalToProto(t)])) };
    },
    async spawnSession(req, context) {
      return { outcome: spawnOutcomeToProto(await control.spawnSession(spawnSpecFromProto(req.spec), context.signal)) };
    },
    async stopSession(req, context) {
      const r = await control.stopSession(stopTargetFromProto(req.target), context.signal);
      return { result: stopResultToProto(r.result), sessionId: r.sessionId };
    },
    async stopRunner(req) {
      return { pid: control.stopRunner(req.reason === 'hub' ? 'hub' : req.reason === 'handoff' ? 'handoff' : 'cli') };
    },
    async sessionStarted(req, context) {
      if (!req.sessionId) throw new InvalidArgumentError('sessionId is required');
      await control.sessionStarted(sessionReportFromProto(req.sessionId, req.metadata), context.signal);
      return {};
    },
    async sessionEnded(req, context) {
      await control.sessionEnded(sessionEndFromProto(req), context.signal);
      return {};
    },
    async *attachSession(requests: AsyncIterable<AttachSessionRequest>, context: CallContext): AsyncIterable<AttachSessionResponse> {
      const incoming = requests[Symbol.asyncIterator]();
      const first = await incoming.next();
      if (first.done) return;
      const { sessionId, message } = attachSessionRequestFromProto(first.value);
      if (!sessionId) throw new InvalidArgumentError('the first AttachSession message must name the session');
      if (message.kind !== 'hello') throw new InvalidArgumentError('the first AttachSession message must carry a hello');
      // Ended by the viewer, or by the runner's shutdown (then the viewer is told to come back).
      const signal = terminator.signal(context.signal);
      const abort = new AbortController();
      const onAbort = () => abort.abort();
      signal.addEventListener('abort', onAbort);
      let failure: unknown;
      async function* rest(): AsyncIterable<ViewerMessage> {
        try {
          for (let r = await incoming.next(); !r.done; r = await incoming.next()) {
            const next = attachSessionRequestFromProto(r.value);
            if (next.sessionId && next.sessionId !== sessionId) throw new InvalidArgumentError('an AttachSession stream stays with its first session');
            yield next.message;
          }
        } catch (err) {
          // A bad message ends this viewer with its error, and nothing else.
          failure = err;
          abort.abort();
        }
      }
      try {
        for await (const event of await control.attachSession(sessionId, message.hello, rest(), abort.signal)) yield attachSessionResponseToProto(event);
        if (failure) throw failure;
        if (signal.aborted && !context.signal.aborted) throw new UnavailableError('the runner is shutting down; attach again with your last offset');
      } finally {
        signal.removeEventListener('abort', onAbort);
        abort.abort();
      }
    },
    async sessionActivityChanged(req) {
      if (!req.sessionId) throw new InvalidArgumentError('sessionId is required');
      control.sessionActivityChanged(req.sessionId);
      return {};
    },
    async decideApproval(req, context) {
      if (!req.sessionId) throw new InvalidArgumentError('sessionId is required');
      return { request: approvalRequestToProto(await control.decideApproval(req.sessionId, approvalDecisionCallFromProto(req.decision), context.signal)) };
    },
    async getSessionScreen(req, context) {
      if (!req.sessionId) throw new InvalidArgumentError('sessionId is required');
      return sessionScreenToProto(await control.getSessionScreen(req.sessionId, context.signal));
    },
    async *watchSessions(_req, context: CallContext): AsyncIterable<WatchSessionsResponse> {
      // Ends (normally) when the client goes or the runner shuts down.
      const queue = createAsyncQueue<WatchSessionsResponse>({ signal: terminator.signal(context.signal) });
      const watch = await control.watchSessions((e) => queue.push(eventToProto(e)), context.signal);
      try {
        yield* watch.sessions.map((s) => eventToProto({ kind: 'started', session: s }));
        yield* queue;
      } finally {
        watch.unsubscribe();
        queue.end();
      }
    },
  };

  return { impl, endStreams: () => terminator.terminate() };
}
