/**
 * The REST view's route docs and body schemas (route-doc.ts), declared once and used by the
 * route table in rest.ts: the spawn body's schema is also what parseSpawnBody accepts (its keys
 * are the only keys allowed), and the OpenAPI document (openapi-document.ts) is built from the
 * table. Machine and Session are the proto3 JSON of hapi.hub.v1.Machine / hapi.common.v1.Session
 * with every field present (src/contract/json.ts); rest-docs.test.ts checks real output against them.
 */
import type { JsonSchema, RouteDoc } from '../../shared/http/route-doc.js';

const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: 'null' }] });
const time = nullable({ type: 'string', format: 'date-time' });
const str = { type: 'string' };
const int = { type: 'integer' };

/** Object schema whose properties are all required (every field is always present). */
function allRequired(properties: Record<string, JsonSchema>, description?: string): JsonSchema {
  return { type: 'object', ...(description ? { description } : {}), required: Object.keys(properties), properties };
}

/** An approval request (hapi.common.v1.ApprovalRequest) as the REST view writes it. */
const APPROVAL_REQUEST = allRequired({
  id: str,
  tool: str,
  command: str,
  file: str,
  description: str,
  choices: { type: 'array', items: str },
  requestedAt: time,
  atTerminal: { type: 'boolean' },
});

export const REST_SCHEMAS: Record<string, JsonSchema> = {
  NotifySettings: allRequired(
    { notifyOnExit: { type: 'boolean' }, mutedSessions: { type: 'array', items: allRequired({ machineId: str, sessionId: str }) } },
    'a namespace\'s notification settings',
  ),
  Machine: allRequired(
    {
      id: str,
      metadata: nullable(
        allRequired({ hostname: str, platform: str, arch: str, cliVersion: str, displayName: str, homeDir: str, agents: { type: 'array', items: str } }),
      ),
      metadataVersion: int,
      runnerState: nullable(
        allRequired({ status: str, pid: int, startedAt: time, shutdownReason: str, lastSpawnError: str, httpPort: int, lostAt: time }),
      ),
      runnerStateVersion: int,
      online: { type: 'boolean' },
      lastAlive: time,
      onlineSince: time,
    },
    'hapi.hub.v1.Machine as proto3 JSON, every field present',
  ),
  Session: allRequired(
    {
      id: str,
      pid: int,
      startedBy: str,
      directory: str,
      agent: str,
      startedAt: time,
      state: str,
      endedAt: time,
      exitCode: nullable(int),
      exitSignal: str,
      worktree: nullable(allRequired({ path: str, branch: str, repository: str })),
      machineId: str,
      lastOutputAt: time,
      lastLine: str,
      activity: nullable(allRequired({ state: str, guess: { type: 'boolean' }, message: str, requests: { type: 'array', items: APPROVAL_REQUEST }, since: time, source: str })),
    },
    'hapi.common.v1.Session as proto3 JSON, every field present; lastOutputAt and lastLine from the terminal its runner reports',
  ),
  ApprovalDecision: allRequired(
    { machineId: str, sessionId: str, request: APPROVAL_REQUEST, decision: str, message: str, tokenId: str, decidedBy: str, origin: str, decidedAt: { type: 'string', format: 'date-time' } },
    'a recorded decision: who (token id and its name), from where (page, cli, api), when, what',
  ),
};

/** POST /api/v1/machines/:machineId/sessions: the only keys parseSpawnBody accepts. */
export const SPAWN_BODY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['directory'],
  properties: {
    directory: { type: 'string', maxLength: 4096, description: 'absolute directory on the machine' },
    agent: { type: 'string', maxLength: 200, description: 'agent name (claude, codex, ...); default: the runner default' },
    sessionId: { type: 'string', maxLength: 200 },
    approveCreateDirectory: { type: 'boolean', description: 'create a missing directory instead of answering 409' },
    worktree: { type: 'object', additionalProperties: false, properties: { branch: { type: 'string', maxLength: 200 } } },
    requestId: { type: 'string', maxLength: 200, description: 'idempotency key' },
    agentArgs: { type: 'array', maxItems: 256, items: { type: 'string' } },
    prompt: {
      type: 'string',
      minLength: 1,
      maxLength: 16384,
      description: "the agent's first input (its task): an argument or typed into its terminal (settings.json promptMode); no control characters but newline and tab",
    },
  },
} as const;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const unauthenticated = { description: 'no token, or a token the hub does not accept' };
const MACHINE_ID = 'the machine id';
const relayErrors = {
  403: { description: 'the token\'s scope does not allow it' },
  404: { description: 'no such machine in the token\'s namespace' },
  503: { description: 'the machine is offline' },
  504: { description: 'the runner did not answer in time' },
};

export const REST_DOCS = {
  whoami: {
    summary: 'who the token acts for',
    tag: 'tokens',
    auth: 'bearer',
    responses: { 200: { description: 'the caller', schema: allRequired({ namespace: str, owner: { type: 'boolean' }, scope: str }) }, 401: unauthenticated },
  },
  machines: {
    summary: 'the namespace\'s machines, online first',
    tag: 'machines',
    auth: 'bearer',
    responses: { 200: { description: 'machines', schema: allRequired({ machines: { type: 'array', items: ref('Machine') } }) }, 401: unauthenticated },
  },
  sessions: {
    summary: 'the namespace\'s sessions across machines, newest first',
    tag: 'sessions',
    auth: 'bearer',
    query: {
      machineId: { description: 'only this machine\'s sessions', schema: str },
      includeEnded: { description: 'also ended sessions (true/false/1/0)', schema: { type: 'string', enum: ['true', 'false', '1', '0'] } },
    },
    responses: {
      200: { description: 'sessions', schema: allRequired({ sessions: { type: 'array', items: ref('Session') } }) },
      400: { description: 'a bad query parameter' },
      401: unauthenticated,
      404: { description: 'no such machine' },
    },
  },
  events: {
    summary: 'live changes as server-sent events (`machine`, `session`), after a snapshot of each',
    tag: 'events',
    auth: 'bearer',
    responses: { 200: { description: 'an event stream; each `data:` is a Machine or a Session', contentType: 'text/event-stream' }, 401: unauthenticated },
  },
  spawn: {
    summary: 'start a session on a machine (relayed to its runner)',
    tag: 'sessions',
    auth: 'bearer',
    params: { machineId: MACHINE_ID },
    body: SPAWN_BODY_SCHEMA,
    responses: {
      200: { description: 'the session started', schema: allRequired({ session: ref('Session') }) },
      400: { description: 'a bad body' },
      401: unauthenticated,
      409: {
        description: 'the directory does not exist: repeat with approveCreateDirectory',
        schema: allRequired({ success: { const: false }, requiresUserApproval: { const: true }, actionRequired: { const: 'CREATE_DIRECTORY' }, directory: str }),
      },
      ...relayErrors,
    },
  },
  stopSession: {
    summary: 'stop a session\'s whole process tree (relayed to its runner)',
    tag: 'sessions',
    auth: 'bearer',
    params: { machineId: MACHINE_ID, sessionId: 'the session id' },
    responses: { 200: { description: 'stopped or already gone', schema: allRequired({ result: { type: 'string', enum: ['stopped', 'already-gone'] } }) }, 401: unauthenticated, ...relayErrors },
  },
  stopRunner: {
    summary: 'stop a machine\'s runner (its sessions keep running)',
    tag: 'machines',
    auth: 'bearer',
    params: { machineId: MACHINE_ID },
    responses: { 200: { description: 'the runner is stopping', schema: allRequired({ status: { const: 'stopping' } }) }, 401: unauthenticated, ...relayErrors },
  },
  pushKey: {
    summary: 'the hub\'s VAPID public key: the applicationServerKey of a push subscription',
    tag: 'notifications',
    auth: 'bearer',
    responses: { 200: { description: 'the key (base64url)', schema: allRequired({ publicKey: str }) }, 401: unauthenticated },
  },
  pushSubscribe: {
    summary: 'subscribe a browser to this namespace\'s notifications (any scope)',
    tag: 'notifications',
    auth: 'bearer',
    body: { type: 'object', required: ['endpoint', 'keys'], properties: { endpoint: str, expirationTime: {}, keys: allRequired({ p256dh: str, auth: str }) } },
    responses: { 200: { description: 'subscribed', schema: allRequired({ subscribed: { const: true } }) }, 400: { description: 'not an https push endpoint, or keys that are not P-256 / 16 bytes' }, 401: unauthenticated },
  },
  pushUnsubscribe: {
    summary: 'remove a push subscription of this namespace',
    tag: 'notifications',
    auth: 'bearer',
    body: allRequired({ endpoint: str }),
    responses: { 200: { description: 'whether one was removed', schema: allRequired({ deleted: { type: 'boolean' } }) }, 401: unauthenticated },
  },
  notifySettings: {
    summary: 'this namespace\'s notification settings and muted sessions',
    tag: 'notifications',
    auth: 'bearer',
    responses: { 200: { description: 'settings', schema: ref('NotifySettings') }, 401: unauthenticated },
  },
  setNotifySettings: {
    summary: 'change this namespace\'s notification settings (full tokens)',
    tag: 'notifications',
    auth: 'bearer',
    body: allRequired({ notifyOnExit: { type: 'boolean' } }),
    responses: { 200: { description: 'settings', schema: ref('NotifySettings') }, 400: { description: 'a bad body' }, 401: unauthenticated, 403: { description: 'a read-only token' } },
  },
  muteSession: {
    summary: 'mute or unmute a session\'s notifications (full tokens)',
    tag: 'notifications',
    auth: 'bearer',
    params: { machineId: MACHINE_ID, sessionId: 'the session id' },
    body: allRequired({ muted: { type: 'boolean' } }),
    responses: { 200: { description: 'done', schema: allRequired({ muted: { type: 'boolean' } }) }, 400: { description: 'a bad body' }, 401: unauthenticated, 403: { description: 'a read-only token' }, 404: { description: 'no such session in this namespace' } },
  },
  decideApproval: {
    summary: 'answer a session\'s pending approval request (relayed to its runner, then to the waiting hook)',
    tag: 'sessions',
    auth: 'bearer',
    params: { machineId: MACHINE_ID, sessionId: 'the session id', requestId: 'the request id (from the session\'s activity)' },
    body: {
      type: 'object',
      required: ['decision'],
      properties: {
        decision: { type: 'string', enum: ['allow', 'deny', 'allow_session'] },
        message: { type: 'string', description: 'shown to the agent on deny' },
        origin: { type: 'string', enum: ['cli', 'api', 'push'], description: 'where the decision was made (default api; "push" only from the page\'s sign-in: a Web Push notification\'s action)' },
      },
    },
    responses: {
      200: { description: 'applied and recorded', schema: allRequired({ decision: ref('ApprovalDecision') }) },
      400: { description: 'a bad body' },
      401: unauthenticated,
      412: { description: 'the request is no longer pending (FAILED_PRECONDITION); the decision was not applied' },
      ...relayErrors,
    },
  },
  listApprovals: {
    summary: 'the decisions recorded for a session, oldest first',
    tag: 'sessions',
    auth: 'bearer',
    params: { machineId: MACHINE_ID, sessionId: 'the session id' },
    responses: { 200: { description: 'decisions', schema: allRequired({ decisions: { type: 'array', items: ref('ApprovalDecision') } }) }, 401: unauthenticated, 404: { description: 'no such session in the token\'s namespace' } },
  },
} satisfies Record<string, RouteDoc>;
