/**
 * The gRPC adapter of SessionService: converts messages and delegates to the session's
 * TerminalSession. Malformed messages are InvalidArgument errors (mapped to INVALID_ARGUMENT
 * by the error middleware); they end the call, never the session.
 */
import type { CallContext } from 'nice-grpc-common';
import {
  screenToProto,
  sessionInputFromProto,
  terminalInfoToProto,
  terminalSizeFromProto,
  viewerEventToProto,
  viewerMessageFromProto,
  type AttachRequest,
  type AttachResponse,
  type SessionServiceImplementation,
} from '../contract/session.js';
import { InvalidArgumentError } from '../shared/errors.js';
import { EncodedMessage } from '../shared/grpc-wire.js';
import { attachOutputParts } from '../contract/session-passthrough.js';
import { activityStateFromProto, approvalRequestToProto, clientDecisionFromProto, decisionToProto } from '../contract/activity.js';
import type { StreamTerminator } from '../shared/stream-terminator.js';
import { MAX_CHUNK_BYTES, type TerminalSession } from './terminal/terminal-session.js';
import type { ActivityTracker } from './activity/activity-tracker.js';

/** A viewer's output buffers its stream may hold at once (each MAX_CHUNK_BYTES). */
export const LENT_BUFFERS = 4;

/**
 * SessionService as the session's server (grpc-http2-server.ts) serves it: Attach may hand over
 * an output message already encoded.
 */
export type SessionServiceHandlers = Omit<SessionServiceImplementation, 'attach'> & {
  attach(requests: AsyncIterable<AttachRequest>, context: CallContext): AsyncIterable<AttachResponse | EncodedMessage>;
};

export function createSessionService(terminal: TerminalSession, terminator: StreamTerminator, activity: ActivityTracker): SessionServiceHandlers {
  return {
    async *attach(requests: AsyncIterable<AttachRequest>, context: CallContext): AsyncIterable<AttachResponse | EncodedMessage> {
      const incoming = requests[Symbol.asyncIterator]();
      const first = await incoming.next();
      if (first.done) return;
      const hello = viewerMessageFromProto(first.value);
      if (hello.kind !== 'hello') throw new InvalidArgumentError('the first Attach message must be a hello');
      const viewer = terminal.attach(hello.hello);
      const signal = terminator.signal(context.signal);
      let failure: unknown;
      // Client messages are handled as they come, while output flows the other way; a bad one
      // ends this viewer (its error becomes the call's status) and nothing else.
      void (async () => {
        try {
          for (let r = await incoming.next(); !r.done; r = await incoming.next()) viewer.handle(viewerMessageFromProto(r.value));
        } catch (err) {
          failure = err;
          viewer.close();
        }
      })();
      const onAbort = () => viewer.close();
      signal.addEventListener('abort', onAbort);
      try {
        // Output is copied out of the ring into a buffer of this viewer's, and written from it as
        // it is (its message's fields in front: attachOutputParts). A buffer is used again once
        // the stream is done with it. At most LENT_BUFFERS are in the stream at once: small
        // messages queued behind a slow peer (a spinner's redraws, until the stream's buffer is
        // full) each get a copy of their own size instead of a whole MAX_CHUNK_BYTES.
        const spare: Buffer[] = [];
        let lent = 0;
        const giveBack = (into: Buffer) => () => {
          lent--;
          spare.push(into);
        };
        for (;;) {
          const into = spare.pop() ?? (lent < LENT_BUFFERS ? Buffer.allocUnsafe(MAX_CHUNK_BYTES) : undefined);
          const event = await viewer.next(into);
          if (!event) break;
          if (event.kind !== 'output') {
            if (into) spare.push(into);
            yield viewerEventToProto(event);
            continue;
          }
          if (!into) {
            yield new EncodedMessage(attachOutputParts(event.offset, event.data));
            continue;
          }
          lent++;
          yield new EncodedMessage(attachOutputParts(event.offset, event.data), giveBack(into));
        }
        if (failure) throw failure;
      } finally {
        signal.removeEventListener('abort', onAbort);
        viewer.close();
      }
    },
    async getScreen(request) {
      return screenToProto(await terminal.screen({ noWait: request.noWait, textOnly: request.textOnly }));
    },
    async sendInput(request) {
      terminal.sendInput(sessionInputFromProto(request));
      return {};
    },
    async resize(request) {
      terminal.resize(terminalSizeFromProto(request.cols, request.rows));
      return {};
    },
    async getInfo() {
      return terminalInfoToProto(terminal.info());
    },
    async reportActivity(request) {
      activity.report(activityStateFromProto(request.state), request.message, request.source, request.notification);
      return {};
    },
    async requestApproval(request, context: CallContext) {
      const outcome = await activity.requestApproval(
        {
          tool: request.tool,
          command: request.command,
          file: request.file,
          description: request.description,
          sessionAllowSupported: request.sessionAllowSupported,
          source: request.source,
        },
        terminator.signal(context.signal),
      );
      return { requestId: outcome.requestId, decision: decisionToProto(outcome.decision), message: outcome.message, reason: outcome.reason };
    },
    async decideApproval(request) {
      if (!request.requestId) throw new InvalidArgumentError('request_id is required');
      const decided = activity.decide(request.requestId, clientDecisionFromProto(request.decision), request.message);
      return { request: approvalRequestToProto(decided) };
    },
  };
}
