import { describe, expect, it } from 'vitest';
import { claudeHookSettings, codexHookArgs, hookCommand, shellWord } from './agent-hooks.js';
import { permissionOutput } from './hook-command.js';

describe('agent hooks', () => {
  it('quotes shell words only when needed', () => {
    expect(shellWord('/usr/bin/node')).toBe('/usr/bin/node');
    expect(shellWord("/home/o'neil/hapi cli.cjs")).toBe(`'/home/o'\\''neil/hapi cli.cjs'`);
    expect(hookCommand('stop', 'claude-hooks', '/opt/h a/hapi.cjs', '/n')).toBe("/n '/opt/h a/hapi.cjs' hook stop --source claude-hooks");
  });

  it("adds Claude Code command hooks, the permission hook's timeout past the approval wait", () => {
    const s = claudeHookSettings(600_000, (e, src) => `hapi hook ${e} --source ${src}`) as { hooks: Record<string, { hooks: { type: string; command: string; timeout?: number }[] }[]> };
    expect(Object.keys(s.hooks).sort()).toEqual(['Notification', 'PermissionRequest', 'PostToolUse', 'Stop', 'UserPromptSubmit']);
    expect(s.hooks.PermissionRequest![0]!.hooks[0]).toEqual({ type: 'command', command: 'hapi hook permission-request --source claude-hooks', timeout: 630 });
    expect(s.hooks.Stop![0]!.hooks[0]!.timeout).toBeUndefined();
  });

  it('gives Codex -c overrides in inline TOML with JSON-escaped commands', () => {
    const args = codexHookArgs(60_000, (e) => `"x" ${e}`);
    expect(args.filter((a) => a === '-c')).toHaveLength(3);
    expect(args[1]).toBe('hooks.PermissionRequest=[{hooks=[{type="command",command="\\"x\\" permission-request",timeout=90}]}]');
  });

  it('prints the documented decision JSON, nothing without a decision', () => {
    expect(permissionOutput('allow', '', undefined)).toEqual({ hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'allow' } } });
    expect(permissionOutput('deny', '', undefined)).toEqual({ hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'deny', message: 'Denied from hapi.' } } });
    const suggestion = { type: 'addRules', rules: [{ toolName: 'Bash', ruleContent: 'ls' }], behavior: 'allow', destination: 'localSettings' };
    expect(permissionOutput('allow_session', '', [suggestion])).toEqual({
      hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'allow', updatedPermissions: [{ ...suggestion, destination: 'session' }] } },
    });
    expect(permissionOutput('none', '', undefined)).toBeUndefined();
  });
});
