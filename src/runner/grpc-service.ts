/**
 * RunnerService over gRPC: decode, call the runner's service facade (RunnerControl), encode.
 * No logic here.
 */
import type { CallContext } from 'nice-grpc';
import { sessionToProto, spawnOutcomeToProto, spawnSpecFromProto, stopResultToProto } from '../contract/common.js';
import {
  sessionEventKindToProto,
  sessionReportFromProto,
  statusToProto,
  stopTargetFromProto,
  type RunnerServiceImplementation,
  type WatchSessionsResponse,
} from '../contract/runner.js';
import { createAsyncQueue } from '../shared/async-queue.js';
import { InvalidArgumentError } from '../shared/errors.js';
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
    async listSessions(_req, context) {
      return { sessions: (await control.listSessions(context.signal)).map(sessionToProto) };
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
      if (!req.sessionId) throw new InvalidArgumentError('sessionId is required');
      await control.sessionEnded({ sessionId: req.sessionId, exitCode: req.exitCode, exitSignal: req.exitSignal || undefined }, context.signal);
      return {};
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
