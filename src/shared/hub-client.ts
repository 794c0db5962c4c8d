/**
 * Client side of the hub, shared by the CLI, the runner's hub link, examples and tests: one
 * place that builds the channel (TLS by URL scheme, keepalive aligned with the hub), attaches
 * the bearer token, finds the hub URL and token (env, `hapi auth login` file, the local hub's
 * state file) and turns transport failures into clear domain errors.
 */
import { readFileSync } from 'node:fs';
import { ChannelCredentials, ClientError, createChannel, createClient, Metadata, Status, type Channel } from 'nice-grpc';
import { HubServiceDefinition, TokenServiceDefinition, type HubServiceClient, type TokenServiceClient } from '../contract/hub.js';
import { DEFAULT_HUB_GRPC_PORT, hubUrls, parseHubUrl, type Env } from './config.js';
import { DeadlineExceededError, HapiError, UnauthenticatedError, UnavailableError } from './errors.js';
import { fromClientError } from './grpc-errors.js';
import { readJsonFile } from './atomic-file.js';
import type { HapiPaths } from './paths.js';
import { isProcessAlive } from './proc.js';
import { hubTrustedCas } from './tls-trust.js';

/**
 * Client keepalive: a ping every 15 s on an idle connection, 10 s to answer. The hub permits
 * pings every 10 s (HUB_GRPC_OPTIONS in src/hub/server.ts), so this never earns a GOAWAY.
 */
export const HUB_CLIENT_CHANNEL_OPTIONS = {
  'grpc.keepalive_time_ms': 15_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 500,
  'grpc.max_reconnect_backoff_ms': 5_000,
} as const;

export function createHubChannel(url: string, extraOptions: Record<string, string | number> = {}): Channel {
  const addr = parseHubUrl(url);
  // grpc-js ignores NODE_EXTRA_CA_CERTS: the roots it should trust are handed over here.
  const credentials = addr.tls ? ChannelCredentials.createSsl(hubTrustedCas() ?? null) : ChannelCredentials.createInsecure();
  return createChannel(addr.target, credentials, { ...HUB_CLIENT_CHANNEL_OPTIONS, ...extraOptions });
}

export function authMetadata(token: string): Metadata {
  return Metadata({ authorization: `Bearer ${token}` });
}

export interface HubClients {
  url: string;
  hub: HubServiceClient;
  tokens: TokenServiceClient;
  channel: Channel;
  close(): void;
}

export function connectHub(url: string, token: string, channel = createHubChannel(url)): HubClients {
  const defaults = { '*': { metadata: authMetadata(token) } };
  return {
    url,
    hub: createClient(HubServiceDefinition, channel, defaults),
    tokens: createClient(TokenServiceDefinition, channel, defaults),
    channel,
    close: () => channel.close(),
  };
}

/** What `hapi auth login` saves (0600). */
export interface AuthFile {
  hubUrl: string;
  token: string;
}

export function readAuthFile(paths: HapiPaths): AuthFile | undefined {
  const r = readJsonFile<Partial<AuthFile>>(paths.authFile);
  if (!r.ok || typeof r.value.token !== 'string' || !r.value.token) return undefined;
  return { hubUrl: typeof r.value.hubUrl === 'string' ? r.value.hubUrl : '', token: r.value.token };
}

/** What a running hub writes to paths.hubStateFile. */
export interface HubStateFile {
  pid: number;
  grpcUrl: string;
  httpUrl: string;
  startedAt: string;
}

/** The local hub's state, when one is running for this HAPI_HOME. */
export function readLocalHub(paths: HapiPaths): HubStateFile | undefined {
  const r = readJsonFile<HubStateFile>(paths.hubStateFile);
  if (!r.ok || typeof r.value.pid !== 'number' || !isProcessAlive(r.value.pid)) return undefined;
  return r.value;
}

export interface HubCredentials {
  url: string;
  token?: string;
  /** Where the token came from, for messages. */
  tokenSource: 'CLI_API_TOKEN' | 'auth file' | 'owner token file' | 'none';
}

const DEFAULT_URL = `http://127.0.0.1:${DEFAULT_HUB_GRPC_PORT}`;

function envValue(env: Env, name: string): string | undefined {
  const v = env[name];
  return v && v.trim() ? v.trim() : undefined;
}

/**
 * Hub URL and token for client commands: HAPI_API_URL, else the `hapi auth login` file, else
 * the local hub's state file, else http://127.0.0.1:3737; CLI_API_TOKEN, else the login file.
 */
export function resolveHubCredentials(paths: HapiPaths, env: Env = process.env): HubCredentials {
  const auth = readAuthFile(paths);
  // A list (several hub replicas, for runners): a client command asks the first; any replica answers.
  const listed = envValue(env, 'HAPI_API_URL');
  const url = (listed && hubUrls(listed)[0]) ?? (auth?.hubUrl || undefined) ?? readLocalHub(paths)?.grpcUrl ?? DEFAULT_URL;
  parseHubUrl(url);
  const envToken = envValue(env, 'CLI_API_TOKEN');
  if (envToken) return { url, token: envToken, tokenSource: 'CLI_API_TOKEN' };
  if (auth) return { url, token: auth.token, tokenSource: 'auth file' };
  return { url, tokenSource: 'none' };
}

/** For `hapi hub token ...`: the owner token (CLI_API_TOKEN or the hub's owner token file). */
export function resolveOwnerCredentials(paths: HapiPaths, env: Env = process.env): HubCredentials {
  const url = envValue(env, 'HAPI_API_URL') ?? readLocalHub(paths)?.grpcUrl ?? DEFAULT_URL;
  parseHubUrl(url);
  const envToken = envValue(env, 'CLI_API_TOKEN');
  if (envToken) return { url, token: envToken, tokenSource: 'CLI_API_TOKEN' };
  try {
    const token = readFileSync(paths.hubOwnerTokenFile, 'utf8').trim();
    if (token) return { url, token, tokenSource: 'owner token file' };
  } catch {
    // no owner token file: fall through
  }
  return { url, tokenSource: 'none' };
}

/** Maps a failed hub call to a domain error with a message a person can act on. */
export function hubCallError(err: unknown, url: string): unknown {
  if (err instanceof ClientError) {
    if (err.code === Status.UNAVAILABLE && /No connection established|ECONNREFUSED|connect|Connection dropped|ENOTFOUND|EHOSTUNREACH/i.test(err.details)) {
      return new UnavailableError(`cannot reach the hub at ${url}: is it running? (start one with \`hapi hub\` or \`hapi up\`)`);
    }
    if (err.code === Status.UNAUTHENTICATED) {
      return new UnauthenticatedError(`the hub at ${url} rejected the token (log in with \`hapi auth login --token <token>\`)`);
    }
    if (err.code === Status.DEADLINE_EXCEEDED || err.code === Status.CANCELLED) {
      return new DeadlineExceededError(`the hub at ${url} did not answer in time${err.details ? `: ${err.details}` : ''}`);
    }
    return fromClientError(err);
  }
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return new DeadlineExceededError(`the hub at ${url} did not answer in time`);
  }
  return err;
}

/** Runs `fn` against the hub and maps failures; the channel is closed afterwards. */
export async function withHub<T>(creds: HubCredentials, fn: (c: HubClients) => Promise<T>): Promise<T> {
  if (!creds.token) {
    throw new HapiError('Unauthenticated', 'no hub token: log in with `hapi auth login --hub <url> --token <token>` or set CLI_API_TOKEN');
  }
  const clients = connectHub(creds.url, creds.token);
  try {
    return await fn(clients);
  } catch (err) {
    throw hubCallError(err, creds.url);
  } finally {
    clients.close();
  }
}
