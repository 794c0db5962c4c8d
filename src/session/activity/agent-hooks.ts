/**
 * Registers `hapi hook <event>` with an agent for one session, without touching the person's own
 * configuration (their settings and hooks keep working: these are added to them):
 * - Claude Code: a settings file of this session's own, passed with `--settings <file>`. Claude
 *   Code merges hooks from every settings source, so the user's and project's hooks still run.
 * - Codex: command-line config overrides (`-c key=value`, TOML values) for its PermissionRequest,
 *   UserPromptSubmit and Stop hooks. Codex runs matching hooks of every config layer, so these
 *   add to the user's. Its `notify` setting is NOT overridden: it is one program, and setting it
 *   would replace the user's; the Stop hook says the same (the turn ended). Codex runs a new
 *   non-managed hook only once the person trusted it (its /hooks review, keyed on the hook's
 *   definition): the commands here are the same for every session (the session is found through
 *   the environment), so trusting them once covers every later session.
 * Both reach the session through HAPI_SESSION_SOCKET in the agent's environment (hooks inherit it).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath } from '../../shared/version.js';

/** How much longer than the approval wait the agent lets a hook run before killing it (s). */
const HOOK_TIMEOUT_SLACK_S = 30;

export interface AgentHooks {
  /** Arguments added before the session's own agent arguments. */
  args: string[];
  /** Removes what was written for the session. */
  cleanup(): void;
}

/** A word for a POSIX shell, quoted when needed. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command line an agent runs for `hapi hook <event>`. */
export function hookCommand(event: string, source: string, cli = cliPath(), node = process.execPath): string {
  return [node, cli, 'hook', event, '--source', source].map(shellWord).join(' ');
}

/** Claude Code's settings with this session's hooks (the documented `hooks` shape). */
export function claudeHookSettings(approvalTimeoutMs: number, command = hookCommand): Record<string, unknown> {
  const entry = (event: string, timeout?: number) => [{ hooks: [{ type: 'command', command: command(event, 'claude-hooks'), ...(timeout ? { timeout } : {}) }] }];
  return {
    hooks: {
      UserPromptSubmit: entry('user-prompt-submit'),
      PostToolUse: entry('post-tool-use'),
      Stop: entry('stop'),
      Notification: entry('notification'),
      // Claude Code kills a hook after its timeout (60 s unless set): this one waits for a person.
      PermissionRequest: entry('permission-request', Math.ceil(approvalTimeoutMs / 1000) + HOOK_TIMEOUT_SLACK_S),
    },
  };
}

/** Codex's `-c` overrides for this session's hooks. */
export function codexHookArgs(approvalTimeoutMs: number, command = hookCommand): string[] {
  const toml = (s: string) => JSON.stringify(s);
  const hook = (event: string, timeout?: number) =>
    `[{hooks=[{type="command",command=${toml(command(event, 'codex-hooks'))}${timeout ? `,timeout=${timeout}` : ''}}]}]`;
  return [
    '-c', `hooks.PermissionRequest=${hook('permission-request', Math.ceil(approvalTimeoutMs / 1000) + HOOK_TIMEOUT_SLACK_S)}`,
    '-c', `hooks.UserPromptSubmit=${hook('user-prompt-submit')}`,
    '-c', `hooks.Stop=${hook('stop')}`,
  ];
}

/** The hooks for `agentName` in this session; none for agents without a hook mechanism. */
export function registerAgentHooks(o: { agentName: string; sessionId: string; hooksDir: string; approvalTimeoutMs: number }): AgentHooks {
  if (o.agentName === 'claude') {
    mkdirSync(o.hooksDir, { recursive: true, mode: 0o700 });
    const file = join(o.hooksDir, `${o.sessionId}.claude.json`);
    writeFileSync(file, `${JSON.stringify(claudeHookSettings(o.approvalTimeoutMs), null, 2)}\n`, { mode: 0o600 });
    return { args: ['--settings', file], cleanup: () => rmSync(file, { force: true }) };
  }
  if (o.agentName === 'codex') return { args: codexHookArgs(o.approvalTimeoutMs), cleanup: () => undefined };
  return { args: [], cleanup: () => undefined };
}
