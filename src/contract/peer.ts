/**
 * PeerService (proto/hapi/hub/peer/v1/peer.proto): the hub replicas' internal service. The
 * definition, and the converters of its one call, built on the relay converters of the runner
 * link (machine-link.ts): a forwarded call is the same RpcRequest/RpcResponse the owner sends
 * down its runner's stream.
 */
import type { RelayRequest } from '../../gen/hapi/hub/peer/v1/peer.js';
import type { RelayCall, RelayResult } from './types.js';
import { HapiError } from '../shared/errors.js';
import { relayCallFromProto, relayCallToProto, relayResultFromProto, relayResultToProto } from './machine-link.js';

export { PeerServiceDefinition, type PeerServiceImplementation, type RelayRequest, type RelayResponse } from '../../gen/hapi/hub/peer/v1/peer.js';

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
