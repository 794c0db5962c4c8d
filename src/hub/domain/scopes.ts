/**
 * Token scopes: what a caller may do in its namespace. The one rule table of the hub; the
 * HubCore facade asks it before every call, so the rule holds for gRPC, REST, the web page's
 * sign-ins and anything added later alike (no transport checks scopes itself).
 */
import type { TokenScope } from '../../contract/types.js';
import { PermissionDeniedError } from '../../shared/errors.js';

export type { TokenScope } from '../../contract/types.js';

export const TOKEN_SCOPES: readonly TokenScope[] = ['full', 'read-only'];

/**
 * What a caller asks the hub to do. Reads: `list` (machines, sessions), `watch` (their change
 * feeds), `runner-status` (a relayed status round trip) and `view` (a read-only terminal attach,
 * for the live sessions to come). Writes: the rest.
 */
export type HubAction = 'list' | 'watch' | 'runner-status' | 'view' | 'spawn' | 'stop-session' | 'stop-runner' | 'connect-runner' | 'type' | 'notify-settings' | 'decide';

/** The actions a read-only token may take; everything else needs `full`. */
const READ_ONLY_ACTIONS: ReadonlySet<HubAction> = new Set(['list', 'watch', 'runner-status', 'view']);

/** What each denied action is called in the error a read-only caller gets. */
const WHAT: Record<HubAction, string> = {
  list: 'list',
  watch: 'watch',
  'runner-status': 'ask for a runner status',
  view: 'view a terminal',
  spawn: 'start sessions',
  'stop-session': 'stop sessions',
  'stop-runner': 'stop runners',
  'connect-runner': 'connect a runner',
  type: 'type into a session',
  'notify-settings': 'change notification settings',
  decide: 'answer approval requests',
};

/** Whether a caller with `scope` may take `action`. */
export function allows(scope: TokenScope, action: HubAction): boolean {
  return scope === 'full' || READ_ONLY_ACTIONS.has(action);
}

/** Throws PermissionDeniedError unless a caller with `scope` may take `action`. */
export function requireScope(caller: { scope: TokenScope }, action: HubAction): void {
  if (!allows(caller.scope, action)) {
    throw new PermissionDeniedError(`this token is read-only: it cannot ${WHAT[action]}`, { scope: caller.scope });
  }
}

/** Parses a scope name (`full`, `read-only`); undefined for anything else. */
export function parseScope(value: string): TokenScope | undefined {
  return (TOKEN_SCOPES as readonly string[]).includes(value) ? (value as TokenScope) : undefined;
}
