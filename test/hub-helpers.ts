/**
 * Helpers for hub tests: start a real hub process (`node dist/hapi.cjs hub`, random ports read
 * from its output) and simulated runners written with the generated MachineService client.
 */
import type { ChildProcess } from 'node:child_process';
import { ClientError, createChannel, createClient, Metadata, ChannelCredentials, type Channel } from 'nice-grpc';
import { MachineServiceDefinition, type ConnectRequest, type ConnectResponse, type RpcRequest, type RpcResponse, type Welcome } from '../gen/hapi/hub/v1/machine.js';
import { RunnerStatus, type Session } from '../gen/hapi/common/v1/common.js';
import { connectHub, type HubClients } from '../src/shared/hub-client.js';
import { createAsyncQueue } from '../src/shared/async-queue.js';
import { waitFor, type TestHome } from './harness.js';

export interface HubProcess {
  proc: ChildProcess;
  grpcUrl: string;
  httpUrl: string;
  ownerToken: string;
  stdout(): string;
  stderr(): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  clients(token?: string): HubClients;
}

export async function startHubProcess(th: TestHome, env: NodeJS.ProcessEnv = {}, ownerToken?: string): Promise<HubProcess> {
  const proc = th.spawnCli(['hub'], { env: { HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', ...env } });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  let dead = false;
  void exited.then(() => (dead = true));
  // The startup lines may arrive in several chunks: wait for each one this needs (the owner
  // token is printed only on a hub's first start; a restarted hub is given it).
  await waitFor(() => {
    if (dead) throw new Error(`hub exited early:\n${out}\n${err}`);
    return /hub HTTP listening on/.test(out) && (ownerToken !== undefined || /owner token[^\n]*:\n\s+\S+/.test(out));
  }, 20_000, 'hub to listen and print its owner token');
  const grpcUrl = /hub gRPC listening on (\S+)/.exec(out)![1]!;
  const httpUrl = /hub HTTP listening on (\S+)/.exec(out)![1]!;
  const token = /owner token[^\n]*:\n\s+(\S+)/.exec(out)?.[1] ?? ownerToken;
  if (!token) throw new Error(`no owner token in hub output and none given:\n${out}`);
  const opened: HubClients[] = [];
  return {
    proc,
    grpcUrl,
    httpUrl,
    ownerToken: token,
    stdout: () => out,
    stderr: () => err,
    async stop(signal = 'SIGTERM') {
      for (const c of opened) c.close();
      if (dead) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
    clients(t = token) {
      const c = connectHub(grpcUrl, t);
      opened.push(c);
      return c;
    },
  };
}

export interface SimRunnerOptions {
  url: string;
  token: string;
  machineId: string;
  hostname?: string;
  /** Answer relayed calls; undefined = never answer. */
  onRpc?: (req: RpcRequest) => RpcResponse['result'] | undefined | Promise<RpcResponse['result'] | undefined>;
  sessions?: Session[];
  pid?: number;
  installFingerprint?: string;
}

/** A simulated runner: one Connect stream driven by the test. */
export interface SimRunner {
  welcome: Promise<Welcome>;
  /** Every message received from the hub. */
  received: ConnectResponse[];
  /** Resolves with the stream's final error (or undefined on a clean end). */
  ended: Promise<ClientError | Error | undefined>;
  send(msg: ConnectRequest['message']): void;
  alive(): void;
  /** Half-close our side (the hub should end the stream). */
  end(): void;
  /** Cancel the call (like a crashed process's connection dropping). */
  cancel(): void;
  channel: Channel;
}

export function simRunner(opts: SimRunnerOptions, channel?: Channel): SimRunner {
  const ch = channel ?? createChannel(new URL(opts.url).host, ChannelCredentials.createInsecure());
  const client = createClient(MachineServiceDefinition, ch);
  const queue = createAsyncQueue<ConnectRequest>();
  const abort = new AbortController();
  const received: ConnectResponse[] = [];
  queue.push({
    message: {
      $case: 'hello',
      value: {
        machineId: opts.machineId,
        metadata: { hostname: opts.hostname ?? opts.machineId, platform: 'linux', arch: 'x64', cliVersion: 'test', displayName: opts.hostname ?? opts.machineId, homeDir: '/home/t', agents: ['claude'] },
        runnerState: { status: RunnerStatus.RUNNER_STATUS_RUNNING, pid: opts.pid ?? 4242, startedAt: new Date(), shutdownReason: '', lastSpawnError: '', httpPort: 0 },
        protocolVersion: 1,
        capabilities: [],
        sessions: opts.sessions ?? [],
        installFingerprint: opts.installFingerprint ?? '',
      },
    },
  });
  let resolveWelcome!: (w: Welcome) => void;
  let rejectWelcome!: (e: unknown) => void;
  const welcome = new Promise<Welcome>((res, rej) => {
    resolveWelcome = res;
    rejectWelcome = rej;
  });
  welcome.catch(() => undefined);
  const ended = (async () => {
    try {
      for await (const msg of client.connect(queue, { metadata: Metadata({ authorization: `Bearer ${opts.token}` }), signal: abort.signal })) {
        received.push(msg);
        if (msg.message?.$case === 'welcome') resolveWelcome(msg.message.value);
        if (msg.message?.$case === 'rpcRequest' && opts.onRpc) {
          const req = msg.message.value;
          void Promise.resolve(opts.onRpc(req)).then((result) => {
            if (result) queue.push({ message: { $case: 'rpcResponse', value: { requestId: req.requestId, result } } });
          });
        }
      }
      rejectWelcome(new Error('stream ended before welcome'));
      return undefined;
    } catch (err) {
      rejectWelcome(err);
      return err as Error;
    } finally {
      queue.end();
      if (!channel) ch.close();
    }
  })();
  return {
    welcome,
    received,
    ended,
    channel: ch,
    send: (message) => void queue.push({ message }),
    alive: () => void queue.push({ message: { $case: 'alive', value: { time: new Date() } } }),
    end: () => queue.end(),
    cancel: () => abort.abort(),
  };
}

/** Polls ListMachines until `pred` holds for the machine. */
export async function waitMachine(c: HubClients, id: string, pred: (m: NonNullable<Awaited<ReturnType<HubClients['hub']['listMachines']>>['machines'][number]>) => boolean, ms = 10_000) {
  return waitFor(async () => {
    const r = await c.hub.listMachines({});
    const m = r.machines.find((x) => x.id === id);
    return m && pred(m) ? m : undefined;
  }, ms, `machine ${id}`);
}

export async function rest(base: string, token: string | undefined, path: string, init: { method?: string; body?: unknown } = {}) {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}
