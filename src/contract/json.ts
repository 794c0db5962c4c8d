/**
 * The JSON of the contract's messages as hapi prints and serves it (the hub's REST view and its
 * event stream, every `--json` of the CLI): proto3 JSON (the generated toJSON: camelCase names,
 * enums by name, times in RFC 3339), except that EVERY field is always present. proto3 JSON
 * leaves out a field at its default value, so an offline machine had no `online` key and
 * `select(.online == false)` found nothing. Here a missing field is filled in: `false`, `0`,
 * `""`, `[]`, the enum's zero name, and `null` for an unset time, an unset optional number or an
 * absent sub-message.
 *
 * Each message's defaults are listed field by field with a type that names every field of the
 * message, so a field added to the proto does not compile until it has its default here.
 */
import {
  ActivityState,
  activityStateToJSON,
  AgentActivity,
  type ApprovalRequest,
  RunnerStatus,
  SessionState,
  StartedBy,
  Session,
  runnerStatusToJSON,
  sessionStateToJSON,
  startedByToJSON,
  type MachineMetadata,
  type RunnerState,
  type Worktree,
} from '../../gen/hapi/common/v1/common.js';
import { Machine } from '../../gen/hapi/hub/v1/hub.js';

type JsonValue = string | number | boolean | null | readonly never[] | { readonly [key: string]: JsonValue };

/** A sub-message field: absent gives null, present gets its own defaults filled in. */
interface Nested {
  readonly nested: Defaults<object>;
}

/** The JSON default of every field of message T. */
type Defaults<T> = { readonly [K in keyof Required<T>]: JsonValue | Nested | NestedList };

const nested = <T>(defaults: Defaults<T>): Nested => ({ nested: defaults as Defaults<object> });

/** A repeated sub-message field: absent gives [], each element gets its own defaults filled in. */
interface NestedList {
  readonly nestedList: Defaults<object>;
}

const nestedList = <T>(defaults: Defaults<T>): NestedList => ({ nestedList: defaults as Defaults<object> });

const WORKTREE: Defaults<Worktree> = { path: '', branch: '', repository: '' };

const MACHINE_METADATA: Defaults<MachineMetadata> = {
  hostname: '',
  platform: '',
  arch: '',
  cliVersion: '',
  displayName: '',
  homeDir: '',
  agents: [],
};

const RUNNER_STATE: Defaults<RunnerState> = {
  status: runnerStatusToJSON(RunnerStatus.RUNNER_STATUS_UNSPECIFIED),
  pid: 0,
  startedAt: null,
  shutdownReason: '',
  lastSpawnError: '',
  httpPort: 0,
  lostAt: null,
};

const APPROVAL_REQUEST: Defaults<ApprovalRequest> = {
  id: '',
  tool: '',
  command: '',
  file: '',
  choices: [],
  requestedAt: null,
  description: '',
  atTerminal: false,
};

const AGENT_ACTIVITY: Defaults<AgentActivity> = {
  state: activityStateToJSON(ActivityState.ACTIVITY_STATE_UNSPECIFIED),
  guess: false,
  message: '',
  requests: nestedList(APPROVAL_REQUEST),
  since: null,
  source: '',
};

const SESSION: Defaults<Session> = {
  id: '',
  pid: 0,
  startedBy: startedByToJSON(StartedBy.STARTED_BY_UNSPECIFIED),
  directory: '',
  agent: '',
  startedAt: null,
  state: sessionStateToJSON(SessionState.SESSION_STATE_UNSPECIFIED),
  endedAt: null,
  exitCode: null,
  exitSignal: '',
  worktree: nested(WORKTREE),
  machineId: '',
  lastOutputAt: null,
  lastLine: '',
  activity: nested(AGENT_ACTIVITY),
};

const MACHINE: Defaults<Machine> = {
  id: '',
  metadata: nested(MACHINE_METADATA),
  metadataVersion: 0,
  runnerState: nested(RUNNER_STATE),
  runnerStateVersion: 0,
  online: false,
  lastAlive: null,
  onlineSince: null,
};

function isNested(v: JsonValue | Nested | NestedList): v is Nested {
  return typeof v === 'object' && v !== null && 'nested' in v;
}

function isNestedList(v: JsonValue | Nested | NestedList): v is NestedList {
  return typeof v === 'object' && v !== null && 'nestedList' in v;
}

/** Fills every field `json` (from a generated toJSON) left out with its default, in the field order of `defaults`. */
function withDefaults(json: unknown, defaults: Defaults<object>): Record<string, unknown> {
  const given = (json ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, fallback] of Object.entries(defaults) as [string, JsonValue | Nested | NestedList][]) {
    const value = given[key];
    if (isNestedList(fallback)) out[key] = Array.isArray(value) ? value.map((v) => withDefaults(v, fallback.nestedList)) : [];
    else if (isNested(fallback)) out[key] = value === undefined ? null : withDefaults(value, fallback.nested);
    else out[key] = value === undefined ? fallback : value;
  }
  // Fields this build does not list (none today) are kept as they are.
  for (const [key, value] of Object.entries(given)) if (!(key in out)) out[key] = value;
  return out;
}

/** A machine as JSON, every field present. */
export function machineToJson(m: Machine): Record<string, unknown> {
  return withDefaults(Machine.toJSON(m), MACHINE);
}

/** A session as JSON, every field present. */
export function sessionToJson(s: Session): Record<string, unknown> {
  return withDefaults(Session.toJSON(s), SESSION);
}

/**
 * A proto enum value's JSON name as the CLI's `--json` prints enums, a lower-case word:
 * `STARTED_BY_RUNNER` -> `runner`, `RUNNER_STATUS_SHUTTING_DOWN` -> `shutting-down` (the same
 * words as the contract's domain converters); the zero value (`*_UNSPECIFIED`) is unknown: null.
 */
export function enumWord(protoName: unknown, prefix: string): string | null {
  if (typeof protoName !== 'string' || !protoName.startsWith(prefix)) return null;
  const word = protoName.slice(prefix.length);
  return word === 'UNSPECIFIED' || word === 'UNRECOGNIZED' ? null : word.toLowerCase().replace(/_/g, '-');
}

/**
 * A machine as the CLI's `--json` prints it (docs/json/machine-list.schema.json): the REST
 * view's fields, every one present, with enums as lower-case words.
 */
export function machineToCliJson(m: Machine): Record<string, unknown> {
  const json = machineToJson(m);
  const state = json.runnerState as Record<string, unknown> | null;
  if (state) state.status = enumWord(state.status, 'RUNNER_STATUS_');
  return json;
}

/** A session as the CLI's `--json` prints it: the REST view's fields, enums as lower-case words. */
export function sessionToCliJson(s: Session): Record<string, unknown> {
  const json = sessionToJson(s);
  json.startedBy = enumWord(json.startedBy, 'STARTED_BY_');
  json.state = enumWord(json.state, 'SESSION_STATE_');
  json.activity = activityWords(json.activity as Record<string, unknown> | null);
  return json;
}

/**
 * An agent's activity as the CLI's `--json` prints it (`hapi sessions`, `hapi runner list`):
 * every field present, `state` and each request's `choices` as lower-case words
 * (`needs-approval`, `allow-session`); null when unknown.
 */
export function activityToCliJson(a: AgentActivity | undefined): Record<string, unknown> | null {
  return a ? activityWords(withDefaults(AgentActivity.toJSON(a), AGENT_ACTIVITY)) : null;
}

function activityWords(json: Record<string, unknown> | null): Record<string, unknown> | null {
  if (!json) return null;
  json.state = enumWord(json.state, 'ACTIVITY_STATE_');
  for (const r of (json.requests ?? []) as Record<string, unknown>[]) r.choices = ((r.choices ?? []) as unknown[]).map((c) => enumWord(c, 'APPROVAL_DECISION_'));
  return json;
}
