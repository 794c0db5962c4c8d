/**
 * RunnerService over gRPC: decode, call the runner's service code, encode. No logic here.
 */
import type { CallContext } from 'nice-grpc';
import { InvalidArgumentError } from '../shared/errors.js';
import { sessionToProto, spawnOutcomeToProto, spawnSpecFromProto, stopResultToProto } from '../contract/common.js';
import {
  sessionEventKindToProto,
  sessionReportFromProto,
  statusToProto,
  stopTargetFromProto,
  type RunnerServiceImplementation,
  type WatchSessionsResponse,
} from '../contract/runner.js';
import type { SessionEvent } from './domain.js';
import type { RunnerControl } from './runner-control.js';

export interface RunnerGrpcService {
  impl: RunnerServiceImplementation;
  /** Ends every open WatchSessions stream (so server shutdown can finish). */
  endStreams(): void;
}

export function createRunnerGrpcService(control: RunnerControl): RunnerGrpcService {
  const streamEnders = new Set<() => void>();

  /** Session calls wait while the runner is still starting (bounded by the call's deadline). */
  const sessionsFor = (context: CallContext) => control.sessions(context.signal);

  const impl: RunnerServiceImplementation = {
    async getStatus() {
      return statusToProto(control.status());
    },
    async listSessions(_req, context) {
      const sessions = await sessionsFor(context);
      return { sessions: sessions.list().map(sessionToProto) };
    },
    async spawnSession(req, context) {
      const sessions = await sessionsFor(context);
      const outcome = await sessions.spawn(spawnSpecFromProto(req.spec));
      return { outcome: spawnOutcomeToProto(outcome) };
    },
    async stopSession(req, context) {
      const sessions = await sessionsFor(context);
      const r = await sessions.stop(stopTargetFromProto(req.target));
      return { result: stopResultToProto(r.result), sessionId: r.sessionId };
    },
    async stopRunner(req) {
      const pid = control.status().pid;
      control.requestStop(req.reason === 'hub' ? 'hub' : req.reason === 'handoff' ? 'handoff' : 'cli');
      return { pid };
    },
    async sessionStarted(req, context) {
      const sessions = await sessionsFor(context);
      if (!req.sessionId) throw new InvalidArgumentError('sessionId is required');
      sessions.reportStarted(sessionReportFromProto(req.sessionId, req.metadata));
      return {};
    },
    async sessionEnded(req, context) {
      const sessions = await sessionsFor(context);
      if (!req.sessionId) throw new InvalidArgumentError('sessionId is required');
      sessions.reportEnded({ sessionId: req.sessionId, exitCode: req.exitCode, exitSignal: req.exitSignal || undefined });
      return {};
    },
    async *watchSessions(_req, context: CallContext): AsyncIterable<WatchSessionsResponse> {
      const sessions = await sessionsFor(context);
      const queue: WatchSessionsResponse[] = [];
      let wake: (() => void) | undefined;
      let ended = false;
      const end = () => {
        ended = true;
        wake?.();
      };
      const push = (e: SessionEvent) => {
        queue.push({ kind: sessionEventKindToProto(e.kind), session: sessionToProto(e.session) });
        wake?.();
      };
      const unsubscribe = sessions.subscribe(push);
      streamEnders.add(end);
      context.signal.addEventListener('abort', end);
      for (const s of sessions.list()) queue.push({ kind: sessionEventKindToProto('started'), session: sessionToProto(s) });
      try {
        while (!ended) {
          while (queue.length > 0) yield queue.shift()!;
          if (ended) break;
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
        }
      } finally {
        unsubscribe();
        streamEnders.delete(end);
        context.signal.removeEventListener('abort', end);
      }
    },
  };

  return {
    impl,
    endStreams() {
      for (const end of [...streamEnders]) end();
    },
  };
}
