/**
 * Keeps every message the runner sends its hub under LINK_MESSAGE_MAX_BYTES, whatever the
 * runner holds, so the hub (which refuses messages over 4 MiB) always hears it and the link
 * never fails over and over on one oversized message:
 * - the hello carries as many live sessions as fit; the others follow right after the welcome
 *   as "adopted" session events, one message each;
 * - a session that breaks the session rules (src/contract/limits.ts) is never sent;
 * - any other message still over the bound is dropped (an answer to a relayed call becomes an
 *   error answer instead), with a log line that says what and why.
 */
import type { Logger } from 'pino';
import { sessionToProto } from '../../contract/common.js';
import { quoteValue, sessionProblem } from '../../contract/limits.js';
import {
  LINK_MESSAGE_MAX_BYTES,
  connectRequestBytes,
  helloSessionBytes,
  sessionEventTypeToProto,
  type ConnectRequest,
} from '../../contract/machine-link.js';
import type { SessionEventKind, SessionInfo } from '../../contract/types.js';
import { grpcStatusOf } from '../../shared/grpc-errors.js';

type HelloFields = Extract<NonNullable<ConnectRequest['message']>, { $case: 'hello' }>['value'];

/** Slack for the hello's own tag and length, which grow with its sessions. */
const HELLO_SLACK_BYTES = 16;

/** Sessions that may go to the hub; the others are logged and left out. */
function sendable(sessions: SessionInfo[], log: Logger): SessionInfo[] {
  return sessions.filter((s) => {
    const problem = sessionProblem(s);
    if (problem) log.error({ sessionId: quoteValue(s.id), sessionPid: s.pid, problem }, 'not telling the hub about a session that breaks the session rules');
    return !problem;
  });
}

/**
 * The hello with as many of `sessions` (oldest first) as fit in one message, and the sessions
 * that did not fit, to be sent as events once the hub has welcomed the stream. Throws when
 * even a hello without sessions would be too large: nothing the link can send then.
 */
export function boundedHello(
  fields: Omit<HelloFields, 'sessions'>,
  sessions: SessionInfo[],
  log: Logger,
  maxBytes = LINK_MESSAGE_MAX_BYTES,
): { hello: ConnectRequest; later: SessionInfo[] } {
  const helloOf = (list: HelloFields['sessions']): ConnectRequest => ({ message: { $case: 'hello', value: { ...fields, sessions: list } } });
  let bytes = connectRequestBytes(helloOf([])) + HELLO_SLACK_BYTES;
  if (bytes > maxBytes) throw new Error(`the hello alone would be ${bytes} bytes, over the link's limit of ${maxBytes}`);
  const included: HelloFields['sessions'] = [];
  const later: SessionInfo[] = [];
  for (const s of sendable(sessions, log)) {
    const proto = sessionToProto(s);
    const size = helloSessionBytes(proto);
    if (later.length === 0 && bytes + size <= maxBytes) {
      included.push(proto);
      bytes += size;
    } else {
      later.push(s);
    }
  }
  if (later.length > 0) {
    log.warn(
      { inHello: included.length, later: later.length, maxBytes },
      'too many sessions for one hello: the rest follow as session events once the hub welcomes the stream',
    );
  }
  return { hello: helloOf(included), later };
}

/** A session event for the hub, or undefined (logged) for a session that breaks the rules. */
export function sessionEventMessage(kind: SessionEventKind, session: SessionInfo, log: Logger): ConnectRequest | undefined {
  if (sendable([session], log).length === 0) return undefined;
  return { message: { $case: 'sessionEvent', value: { type: sessionEventTypeToProto(kind), session: sessionToProto(session) } } };
}

/**
 * `msg` if it fits in one message; otherwise an error answer in place of an answer to a
 * relayed call (so the hub's caller is not left waiting for the deadline), and undefined for
 * anything else. Both are logged.
 */
export function fitMessage(msg: ConnectRequest, log: Logger, maxBytes = LINK_MESSAGE_MAX_BYTES): ConnectRequest | undefined {
  const bytes = connectRequestBytes(msg);
  if (bytes <= maxBytes) return msg;
  const kind = msg.message?.$case ?? 'empty';
  if (msg.message?.$case === 'rpcResponse') {
    const { requestId } = msg.message.value;
    log.error({ requestId, bytes, maxBytes }, 'answer to a relayed call is too large for the hub link; answering with an error instead');
    const message = `the runner's answer (${bytes} bytes) is over the hub link's limit of ${maxBytes} bytes`;
    return { message: { $case: 'rpcResponse', value: { requestId, result: { $case: 'error', value: { code: grpcStatusOf('ResourceExhausted'), message } } } } };
  }
  log.error({ kind, bytes, maxBytes }, 'message too large for the hub link: dropped');
  return undefined;
}
