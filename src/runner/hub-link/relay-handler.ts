/**
 * The hub link's relay handler: a call the hub relays down the stream (RpcRequest) is decoded,
 * run through the runner's service facade (RunnerControl, exactly like a local gRPC or HTTP
 * call) within the hub's deadline, and answered (RpcResponse). Typed domain errors keep their
 * status code; anything else is logged and answered as a generic internal error.
 */
import type { Logger } from 'pino';
import { relayCallFromProto, relayResultToProto, type RpcRequest, type RpcResponse } from '../../contract/machine-link.js';
import { clipText } from '../../contract/limits.js';
import type { RelayCall, RelayResult, RunnerStatusInfo, RunnerStatusReportInfo } from '../../contract/types.js';
import { DeadlineExceededError, InvalidArgumentError, isHapiError } from '../../shared/errors.js';
import { grpcStatusOf } from '../../shared/grpc-errors.js';
import type { RunnerControl } from '../runner-control.js';
import type { HubLinkClock } from './clock.js';
import { NO_COUNTERS, type RunnerCounters } from '../runner-counters.js';

/** Used when the hub sent no deadline. */
export const DEFAULT_RELAY_DEADLINE_MS = 60_000;

const pastDeadline = () => new DeadlineExceededError('the hub’s deadline passed before the runner finished');

export interface RelayHandler {
  /** Never rejects: failures become an error response. */
  handle(req: RpcRequest): Promise<RpcResponse>;
}

export interface RelayHandlerOptions {
  control: RunnerControl;
  log: Logger;
  clock: HubLinkClock;
  /** Relayed calls and their failures are counted here. */
  counters?: RunnerCounters;
}

/** What the hub's status request gets: a summary of the runner's own status. */
export function statusReport(s: RunnerStatusInfo): RunnerStatusReportInfo {
  return { pid: s.pid, cliVersion: s.cliVersion, sessionCount: s.sessionCount, startedAt: s.startedAt };
}

export function createRelayHandler(opts: RelayHandlerOptions): RelayHandler {
  const { control, log, clock } = opts;
  const counters = opts.counters ?? NO_COUNTERS;

  async function run(call: RelayCall, signal: AbortSignal): Promise<RelayResult> {
    switch (call.method) {
      case 'spawn':
        return { method: 'spawn', outcome: await control.spawnSession(call.spec, signal) };
      case 'stop-session':
        return { method: 'stop-session', result: (await control.stopSession({ sessionId: call.sessionId }, signal)).result };
      case 'stop-runner':
        // Answer first, then stop: the hub hears "accepted" before the stream closes.
        setImmediate(() => control.stopRunner('hub'));
        return { method: 'stop-runner' };
      case 'status':
        return { method: 'status', report: statusReport(control.status()) };
      case 'session-screen':
        return { method: 'session-screen', screen: await control.getSessionScreen(call.sessionId, signal) };
      case 'send-input':
        await control.sendSessionInput(call.sessionId, call.input, signal);
        return { method: 'send-input' };
      case 'decide-approval':
        return { method: 'decide-approval', request: await control.decideApproval(call.sessionId, call.decision, signal) };
    }
  }

  /** Runs the call, or rejects with DeadlineExceeded once the deadline passes (the call is abandoned). */
  async function withinDeadline(call: RelayCall, deadlineMs: number): Promise<RelayResult> {
    if (deadlineMs <= 0) throw pastDeadline();
    const gaveUp = new AbortController();
    const deadline = clock.sleep(deadlineMs, gaveUp.signal).then(() => {
      if (!gaveUp.signal.aborted) throw pastDeadline();
      return new Promise<never>(() => undefined);
    });
    try {
      return await Promise.race([run(call, gaveUp.signal), deadline]);
    } finally {
      // Stops the deadline timer, and a call still waiting for the runner to become ready.
      gaveUp.abort();
    }
  }

  return {
    async handle(req) {
      const started = clock.now();
      counters.count('relayedCalls');
      try {
        const call = relayCallFromProto(req);
        if (!call) throw new InvalidArgumentError('unknown relayed method');
        const deadlineMs = req.deadline ? req.deadline.getTime() - clock.now() : DEFAULT_RELAY_DEADLINE_MS;
        const result = await withinDeadline(call, deadlineMs);
        log.debug({ requestId: req.requestId, method: result.method, ms: clock.now() - started }, 'answered relayed call');
        return relayResultToProto(req.requestId, result);
      } catch (err) {
        const known = isHapiError(err);
        counters.count('relayedCallFailures');
        if (!known) log.error({ err, requestId: req.requestId }, 'relayed call failed unexpectedly');
        return {
          requestId: req.requestId,
          result: {
            $case: 'error',
            value: { code: grpcStatusOf(known ? err.kind : 'Internal'), message: known ? clipText(err.message, 4096) : 'internal error' },
          },
        };
      }
    },
  };
}
