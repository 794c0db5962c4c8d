/**
 * SessionService (proto/hapi/session/v1): the definition its transports use and the converters
 * between its messages and the plain types of session-types.ts. Input is validated here:
 * anything malformed is an InvalidArgumentError (INVALID_ARGUMENT), never a crash.
 */
import {
  AttachMode as ProtoAttachMode,
  type AttachRequest,
  type AttachResponse,
  type GetInfoResponse,
  type GetScreenResponse,
  type SendInputRequest,
} from '../../gen/hapi/session/v1/session.js';
import { InvalidArgumentError } from '../shared/errors.js';
import { exitStatusToProto } from './session-viewer.js';
import { activityToProto } from './activity.js';
import {
  MAX_INPUT_BYTES,
  MAX_TERMINAL_DIMENSION,
  SESSION_PROTOCOL_VERSION,
  type ScreenText,
  type SessionInput,
  type TerminalInfo,
  type TerminalSize,
  type ViewerEvent,
  type ViewerMessage,
} from './session-types.js';

export { SessionServiceDefinition, type SessionServiceImplementation, type AttachRequest, type AttachResponse } from '../../gen/hapi/session/v1/session.js';
export { AttachMode as ProtoAttachMode } from '../../gen/hapi/session/v1/session.js';

/** Validates a size; `what` names it in the error. */
export function terminalSizeFromProto(cols: number, rows: number, what = 'size'): TerminalSize {
  const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= MAX_TERMINAL_DIMENSION;
  if (!ok(cols) || !ok(rows)) throw new InvalidArgumentError(`${what} must be 1..${MAX_TERMINAL_DIMENSION} columns and rows, got ${cols}x${rows}`);
  return { cols, rows };
}

function inputBytes(data: Uint8Array): Buffer {
  if (data.length > MAX_INPUT_BYTES) throw new InvalidArgumentError(`input is larger than ${MAX_INPUT_BYTES} bytes`);
  return Buffer.from(data);
}

/** Proto -> domain for one Attach client message. */
export function viewerMessageFromProto(req: AttachRequest): ViewerMessage {
  const kind = req.kind;
  switch (kind?.$case) {
    case 'hello': {
      const h = kind.value;
      const mode =
        h.mode === ProtoAttachMode.ATTACH_MODE_INTERACTIVE ? 'interactive' : h.mode === ProtoAttachMode.ATTACH_MODE_READ_ONLY ? 'read-only' : undefined;
      if (!mode) throw new InvalidArgumentError('hello.mode must be interactive or read-only');
      const size = h.cols === 0 && h.rows === 0 ? undefined : terminalSizeFromProto(h.cols, h.rows, 'hello size');
      if (h.lastOffset !== undefined && (!Number.isSafeInteger(h.lastOffset) || h.lastOffset < 0)) throw new InvalidArgumentError('hello.last_offset is out of range');
      return { kind: 'hello', hello: { mode, size, lastOffset: h.lastOffset, localTerminal: h.localTerminal || undefined } };
    }
    case 'input':
      return { kind: 'input', data: inputBytes(kind.value.data) };
    case 'resize':
      return { kind: 'resize', size: terminalSizeFromProto(kind.value.cols, kind.value.rows, 'resize') };
    case 'ack':
      return { kind: 'ack', offset: kind.value.offset };
    default:
      throw new InvalidArgumentError('empty Attach message');
  }
}

/** Domain -> proto for one Attach server message. */
export function viewerEventToProto(e: ViewerEvent): AttachResponse {
  switch (e.kind) {
    case 'snapshot': {
      const s = e.snapshot;
      return { kind: { $case: 'snapshot', value: { screen: Buffer.from(s.ansi), cursor: s.cursor, cols: s.cols, rows: s.rows, offset: s.offset } } };
    }
    case 'output':
      return { kind: { $case: 'output', value: { offset: e.offset, data: e.data } } };
    case 'exited':
      return { kind: { $case: 'exited', value: { status: exitStatusToProto(e.status) } } };
  }
}

/** Proto -> domain for SendInput: exactly one of data or text. */
export function sessionInputFromProto(req: SendInputRequest): SessionInput {
  const hasData = req.data.length > 0;
  const hasText = req.text.length > 0;
  if (hasData === hasText) throw new InvalidArgumentError('SendInput needs exactly one of data or text');
  if (hasData) return { data: inputBytes(req.data), enter: req.enter };
  if (Buffer.byteLength(req.text) > MAX_INPUT_BYTES) throw new InvalidArgumentError(`input is larger than ${MAX_INPUT_BYTES} bytes`);
  return { text: req.text, enter: req.enter };
}

export function screenToProto(s: ScreenText): GetScreenResponse {
  return { text: s.text, ansi: s.ansi, cursor: s.cursor, cols: s.cols, rows: s.rows, offset: s.offset };
}

export function terminalInfoToProto(i: TerminalInfo): GetInfoResponse {
  return {
    id: i.id,
    agent: i.agent,
    directory: i.directory,
    cols: i.cols,
    rows: i.rows,
    startedBy: i.startedBy,
    pid: i.pid,
    viewers: i.viewers,
    lastOutputAt: i.lastOutputAt,
    exitStatus: i.exitStatus && exitStatusToProto(i.exitStatus),
    protocolVersion: SESSION_PROTOCOL_VERSION,
    outputOffset: i.outputOffset,
    activity: i.activity && activityToProto(i.activity),
  };
}
