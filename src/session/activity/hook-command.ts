/**
 * `hapi hook <event>`: what an agent's hook runs (registered by agent-hooks.ts). It reads the
 * hook's JSON on stdin, as Claude Code and Codex document it, and tells its session through the
 * session's socket (HAPI_SESSION_SOCKET, set in the agent's environment):
 * - user-prompt-submit, post-tool-use: the agent works;
 * - stop: its turn ended (waiting for input); notification: waiting, with the message shown;
 * - permission-request: asks for a decision and waits for it (SessionService.RequestApproval),
 *   then prints the agent's documented decision JSON on stdout:
 *   `{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"allow"}}}`
 *   (deny: `"behavior":"deny","message":...`); "allow for this session" adds Claude Code's own
 *   permission suggestions as `updatedPermissions` for the session. No decision (a person at
 *   the terminal, the timeout, no session) prints nothing: the agent shows its own prompt.
 * Always exits 0: a hook that fails must never block the agent (exit 2 would), only say nothing.
 * Runs on every hook, so it stays in the CLI's hot bundle and uses the node:http2 unary client.
 */
import { ProtoActivityState, decisionFromProto } from '../../contract/activity.js';
import { SessionServiceDefinition } from '../../contract/session.js';
import { createUnaryClient } from '../../shared/grpc-unary-client.js';
import type { Env } from '../../shared/config.js';

export const HOOK_EVENTS = ['user-prompt-submit', 'post-tool-use', 'stop', 'notification', 'permission-request'] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

/** A report call must not hold the agent up: it answers in a millisecond when the session is there. */
const REPORT_TIMEOUT_MS = 3_000;

type Json = Record<string, unknown>;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

async function readStdin(stdin: NodeJS.ReadableStream): Promise<Json> {
  if ((stdin as { isTTY?: boolean }).isTTY) return {};
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(Buffer.from(c as Buffer));
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
  } catch {
    return {};
  }
}

/** The decision JSON an agent reads from a PermissionRequest hook's stdout; undefined: no decision. */
export function permissionOutput(decision: string, message: string, suggestions: unknown): Json | undefined {
  if (decision === 'allow' || decision === 'allow_session') {
    const d: Json = { behavior: 'allow' };
    if (decision === 'allow_session' && Array.isArray(suggestions) && suggestions.length > 0) {
      // The agent's own "always allow" suggestions, kept for this session only.
      d.updatedPermissions = suggestions.map((s) => (s && typeof s === 'object' ? { ...(s as Json), destination: 'session' } : s));
    }
    return { hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: d } };
  }
  if (decision === 'deny') {
    return { hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'deny', message: message || 'Denied from hapi.' } } };
  }
  return undefined;
}

/** Runs one hook; resolves with the exit code (always 0). */
export async function runHook(event: string, o: { source: string; env?: Env; stdin?: NodeJS.ReadableStream; stdout?: NodeJS.WritableStream; stderr?: NodeJS.WritableStream }): Promise<number> {
  const env = o.env ?? process.env;
  const stdout = o.stdout ?? process.stdout;
  const stderr = o.stderr ?? process.stderr;
  const input = await readStdin(o.stdin ?? process.stdin);
  const socket = env.HAPI_SESSION_SOCKET;
  // Not in a hapi session (the settings file was reused elsewhere): nothing to tell.
  if (!socket) return 0;
  const source = o.source || 'claude-hooks';
  const { client, channel } = createUnaryClient(SessionServiceDefinition, socket);
  try {
    switch (event as HookEvent) {
      case 'user-prompt-submit':
      case 'post-tool-use':
        await client.reportActivity({ state: ProtoActivityState.ACTIVITY_STATE_WORKING, message: '', source, notification: false }, { signal: AbortSignal.timeout(REPORT_TIMEOUT_MS) });
        return 0;
      case 'stop':
      case 'notification':
        await client.reportActivity(
          { state: ProtoActivityState.ACTIVITY_STATE_WAITING_FOR_INPUT, message: event === 'notification' ? str(input.message) : '', source, notification: event === 'notification' },
          { signal: AbortSignal.timeout(REPORT_TIMEOUT_MS) },
        );
        return 0;
      case 'permission-request': {
        const toolInput = (input.tool_input && typeof input.tool_input === 'object' ? input.tool_input : {}) as Json;
        const suggestions = input.permission_suggestions;
        const outcome = await client.requestApproval({
          tool: str(input.tool_name) || 'unknown',
          command: str(toolInput.command),
          file: str(toolInput.file_path) || str(toolInput.path) || str(toolInput.notebook_path),
          description: str(toolInput.description) || str(toolInput.url) || str(toolInput.prompt),
          sessionAllowSupported: Array.isArray(suggestions) && suggestions.length > 0,
          source,
        });
        const out = permissionOutput(decisionFromProto(outcome.decision), outcome.message, suggestions);
        if (out) stdout.write(`${JSON.stringify(out)}\n`);
        return 0;
      }
      default:
        stderr.write(`hapi hook: unknown event ${JSON.stringify(event)} (known: ${HOOK_EVENTS.join(', ')})\n`);
        return 0;
    }
  } catch (err) {
    // The session is gone or busy: no decision, and the agent goes on as without hapi.
    stderr.write(`hapi hook: ${err instanceof Error ? err.message : String(err)}\n`);
    return 0;
  } finally {
    channel.close();
  }
}
