/**
 * PeerService (proto/hapi/hub/peer/v1/peer.proto): the hub replicas' internal service. The
 * definition, and the converters of its one call, built on the relay converters of the runner
 * link (machine-link.ts): a forwarded call is the same RpcRequest/RpcResponse the owner sends
 * down its runner's stream.
 */
import type { AttachRequest, AttachResponse, RelayRequest } from '../../gen/hapi/hub/peer/v1/peer.js';
import type { RelayCall, RelayResult } from './types.js';
import type { AttachHello, ViewerEvent, ViewerMessage } from './session-types.js';
import { HapiError, InvalidArgumentError } from '../shared/errors.js';
import { viewerEventToProto, viewerMessageFromProto } from './session.js';
import { attachHelloToProto, viewerEventFromProto, viewerMessageToProto } from './session-viewer.js';
import { relayCallFromProto, relayCallToProto, relayResultFromProto, relayResultToProto } from './machine-link.js';

export {
  PeerServiceDefinition,
  type AttachRequest as PeerAttachRequest,
  type AttachResponse as PeerAttachResponse,
  type PeerServiceImplementation,
  type RelayRequest,
  type RelayResponse,
} from '../../gen/hapi/hub/peer/v1/peer.js';

/** The metadata key carrying the cluster secret (never `authorization`: no token opens this service). */
export const CLUSTER_SECRET_HEADER = 'x-hapi-cluster-secret';

/** A forwarded call as the domain sees it. */
export interface PeerRelayInfo {
  namespace: string;
  machineId: string;
  /** The owner epoch the caller read (0 = not checked). */
  epoch: number;
  call: RelayCall;
  deadline: Date;
}

export function peerRelayToProto(r: PeerRelayInfo): RelayRequest {
  return { namespace: r.namespace, machineId: r.machineId, epoch: r.epoch, call: relayCallToProto('', r.deadline, r.call) };
}

export function peerRelayFromProto(r: RelayRequest): PeerRelayInfo {
  const call = r.call && relayCallFromProto(r.call);
  if (!call) throw new HapiError('InvalidArgument', 'relay request without a known call');
  return { namespace: r.namespace, machineId: r.machineId, epoch: r.epoch, call, deadline: r.call?.deadline ?? new Date(Date.now() + 15_000) };
}

export function peerResultToProto(r: RelayResult) {
  return { result: relayResultToProto('', r) };
}

export function peerResultFromProto(r: { result?: Parameters<typeof relayResultFromProto>[0] }): RelayResult {
  const result = r.result && relayResultFromProto(r.result);
  if (!result) throw new HapiError('Internal', 'the owner replica sent an empty answer');
  return result;
}

/** PeerService.Attach's open, as the domain sees it. */
export interface PeerAttachOpenInfo {
  namespace: string;
  machineId: string;
  sessionId: string;
  epoch: number;
  hello: AttachHello;
}

export function peerAttachOpenToProto(o: PeerAttachOpenInfo): AttachRequest {
  return { message: { $case: 'open', value: { namespace: o.namespace, machineId: o.machineId, sessionId: o.sessionId, epoch: o.epoch, hello: attachHelloToProto(o.hello) } } };
}

/** The first message of PeerService.Attach; InvalidArgument for anything else. */
export function peerAttachOpenFromProto(r: AttachRequest | undefined): PeerAttachOpenInfo {
  if (r?.message?.$case !== 'open') throw new InvalidArgumentError('the first message must be open');
  const o = r.message.value;
  if (!o.hello) throw new InvalidArgumentError('open needs a hello');
  const m = viewerMessageFromProto({ kind: { $case: 'hello', value: o.hello } });
  if (m.kind !== 'hello') throw new InvalidArgumentError('open needs a hello');
  return { namespace: o.namespace, machineId: o.machineId, sessionId: o.sessionId, epoch: o.epoch, hello: m.hello };
}

/** A later message of PeerService.Attach (input, resize, ack); InvalidArgument for a hello or an empty one. */
export function peerAttachMessageFromProto(r: AttachRequest): ViewerMessage {
  if (r.message?.$case !== 'request') throw new InvalidArgumentError('only the first message is open');
  const m = viewerMessageFromProto(r.message.value);
  if (m.kind === 'hello') throw new InvalidArgumentError('a second hello');
  return m;
}

export const peerAttachMessageToProto = (m: ViewerMessage): AttachRequest => ({ message: { $case: 'request', value: viewerMessageToProto(m) } });
export const peerAttachEventToProto = (e: ViewerEvent): AttachResponse => ({ message: { $case: 'response', value: viewerEventToProto(e) } });
export const PEER_ATTACH_OPENED: AttachResponse = { message: { $case: 'opened', value: {} } };

/** 'opened', or the session's event; InvalidArgument for an empty answer. */
export function peerAttachEventFromProto(r: AttachResponse): ViewerEvent | 'opened' {
  if (r.message?.$case === 'opened') return 'opened';
  return viewerEventFromProto(r.message?.value ?? {});
}
