/**
 * The client side of SessionService's messages (proto/hapi/session/v1): what a viewer sends
 * (domain -> proto) and what it receives (proto -> domain). session.ts holds the server side.
 * Used by the runner, which is a client of every session's socket (AttachSession proxy,
 * GetSessionScreen, the terminal figures of ListSessions), and by the runner's own messages that
 * embed session messages (runner.ts); and by the CLI's attach client (src/session/attach/).
 */
import {
  AttachMode as ProtoAttachMode,
  AttachRequest as AttachRequestCodec,
  AttachResponse as AttachResponseCodec,
  type AttachRequest,
  type AttachResponse,
  type ExitStatus as ProtoExitStatus,
  type GetInfoResponse,
  type GetScreenResponse,
  type SendInputRequest,
} from '../../gen/hapi/session/v1/session.js';
import { InvalidArgumentError } from '../shared/errors.js';
import { activityFromProto } from './activity.js';
import type { AttachHello, ExitStatus, ScreenText, SessionInput, TerminalInfo, ViewerEvent, ViewerMessage } from './session-types.js';

/** Domain -> proto for SendInput (the session validates it again). */
export function sessionInputToProto(i: SessionInput): SendInputRequest {
  return 'data' in i ? { data: i.data, text: '', enter: i.enter } : { data: Buffer.alloc(0), text: i.text, enter: i.enter };
}

/** Domain -> proto for an Attach hello. */
export function attachHelloToProto(h: AttachHello) {
  const mode = h.mode === 'interactive' ? ProtoAttachMode.ATTACH_MODE_INTERACTIVE : ProtoAttachMode.ATTACH_MODE_READ_ONLY;
  return { mode, cols: h.size?.cols ?? 0, rows: h.size?.rows ?? 0, lastOffset: h.lastOffset, localTerminal: h.localTerminal === true };
}

/** Full gRPC method path of SessionService.Attach. */
export const ATTACH_METHOD_PATH = '/hapi.session.v1.SessionService/Attach';

/** Wire codecs of the Attach messages, for a transport that frames them itself (the CLI's node:http2 client). */
export const attachCodec = {
  encodeRequest: (message: AttachRequest): Uint8Array => AttachRequestCodec.encode(message).finish(),
  decodeResponse: (bytes: Uint8Array): AttachResponse => AttachResponseCodec.decode(bytes),
};

/** Domain -> proto for one Attach client message. */
export function viewerMessageToProto(m: ViewerMessage): AttachRequest {
  switch (m.kind) {
    case 'hello':
      return { kind: { $case: 'hello', value: attachHelloToProto(m.hello) } };
    case 'input':
      return { kind: { $case: 'input', value: { data: m.data } } };
    case 'resize':
      return { kind: { $case: 'resize', value: { cols: m.size.cols, rows: m.size.rows } } };
    case 'ack':
      return { kind: { $case: 'ack', value: { offset: m.offset } } };
  }
}

export function exitStatusFromProto(s: ProtoExitStatus | undefined): ExitStatus {
  return { exitCode: s?.exitCode, exitSignal: s?.exitSignal || undefined };
}

export function exitStatusToProto(s: ExitStatus): ProtoExitStatus {
  return { exitCode: s.exitCode, exitSignal: s.exitSignal ?? '' };
}

/** Proto -> domain for one Attach server message. INVALID_ARGUMENT for an empty one. */
export function viewerEventFromProto(r: AttachResponse): ViewerEvent {
  const kind = r.kind;
  switch (kind?.$case) {
    case 'snapshot': {
      const s = kind.value;
      const snapshot = { ansi: Buffer.from(s.screen).toString('utf8'), cursor: s.cursor ?? { x: 0, y: 0 }, cols: s.cols, rows: s.rows, offset: s.offset };
      return { kind: 'snapshot', snapshot };
    }
    case 'output':
      // A view, not a copy: the decoded bytes belong to this message alone (the transport's buffer).
      return { kind: 'output', offset: kind.value.offset, data: Buffer.from(kind.value.data.buffer, kind.value.data.byteOffset, kind.value.data.byteLength) };
    case 'exited':
      return { kind: 'exited', status: exitStatusFromProto(kind.value.status) };
    default:
      throw new InvalidArgumentError('empty Attach response');
  }
}

export function screenFromProto(s: GetScreenResponse): ScreenText {
  return { text: s.text, ansi: s.ansi, cursor: s.cursor ?? { x: 0, y: 0 }, cols: s.cols, rows: s.rows, offset: s.offset };
}

/** GetInfo -> the figures the runner keeps; protocolVersion 0 when the session sent none. */
export function terminalInfoFromProto(i: GetInfoResponse): TerminalInfo & { protocolVersion: number } {
  return {
    id: i.id,
    agent: i.agent,
    directory: i.directory,
    cols: i.cols,
    rows: i.rows,
    startedBy: i.startedBy === 'terminal' ? 'terminal' : 'runner',
    pid: i.pid,
    viewers: i.viewers,
    lastOutputAt: i.lastOutputAt,
    exitStatus: i.exitStatus && exitStatusFromProto(i.exitStatus),
    outputOffset: i.outputOffset,
    protocolVersion: i.protocolVersion,
    activity: activityFromProto(i.activity),
  };
}
