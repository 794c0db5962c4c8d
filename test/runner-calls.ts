/**
 * Calls to a test runner from the outside, as clients make them: a POST to its HTTP gateway
 * (with the control token of its state file), a gRPC call over its socket, and the machine id a
 * hub-linked runner writes.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { createClient, type Client } from 'nice-grpc';
import { RunnerServiceDefinition } from '../gen/hapi/runner/v1/runner.js';
import { createUdsChannel } from '../src/shared/grpc-channel.js';
import { waitFor, type RunnerStateFile } from './harness.js';

export interface GatewayAnswer {
  status: number;
  body: any;
}

/** POSTs JSON to the runner's HTTP gateway (node:http, so a test can tell a reset from an answer). */
export function gatewayPost(state: RunnerStateFile, path: string, body: unknown): Promise<GatewayAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: state.httpPort,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${state.controlToken}` },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** One RunnerService call over the runner's socket, on a channel closed afterwards. */
export async function runnerGrpc<T>(state: RunnerStateFile, call: (c: Client<typeof RunnerServiceDefinition>) => Promise<T>): Promise<T> {
  const channel = createUdsChannel(state.socketPath);
  try {
    return await call(createClient(RunnerServiceDefinition, channel));
  } finally {
    channel.close();
  }
}

/** The machine id a runner writes to its HAPI_HOME (once its hub link starts). */
export function machineIdOf(home: string, timeoutMs = 10_000): Promise<string> {
  return waitFor(() => {
    try {
      return readFileSync(join(home, 'machine-id'), 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }, timeoutMs, 'machine id file');
}
