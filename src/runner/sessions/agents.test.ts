import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentEnvVar, createAgentResolver, splitCommandLine } from './agents.js';

describe('splitCommandLine', () => {
  it('splits like a POSIX shell without expansion', () => {
    expect(splitCommandLine('/opt/codex --flag')).toEqual(['/opt/codex', '--flag']);
    expect(splitCommandLine(`node  "/a b/agent.mjs" 'x "y"' a\\ b "q\\"q" $HOME`)).toEqual(['node', '/a b/agent.mjs', 'x "y"', 'a b', 'q"q', '$HOME']);
    expect(splitCommandLine("x ''")).toEqual(['x', '']);
    expect(() => splitCommandLine('node "unterminated')).toThrow(/unterminated " quote/);
    expect(() => splitCommandLine('   ')).toThrow(/empty/);
  });
});

describe('agent resolution', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function setup() {
    dir = mkdtempSync(join(tmpdir(), 'hapi-agents-'));
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    for (const name of ['claude', 'gemini', 'mine-bin']) {
      writeFileSync(join(bin, name), '#!/bin/sh\n');
      chmodSync(join(bin, name), 0o755);
    }
    writeFileSync(join(bin, 'codex'), 'not executable');
    return { bin, settings: join(dir, 'settings.json') };
  }

  it('resolves built-ins on PATH, env overrides and settings, in that precedence', () => {
    const { bin, settings } = setup();
    const r = createAgentResolver({ env: { PATH: bin }, settingsFile: settings });
    expect(r.resolve()).toEqual({ name: 'claude', command: join(bin, 'claude'), args: [], source: 'builtin', promptMode: 'argument' });
    expect(r.resolve('').name).toBe('claude');
    // A non-executable file does not count.
    expect(() => r.resolve('codex')).toThrow(`agent 'codex' not found on PATH; set HAPI_AGENT_CODEX_COMMAND or agents.codex.command in ${settings}`);
    expect(() => r.resolve('bad name')).toThrow(/invalid agent name/);

    writeFileSync(settings, JSON.stringify({ agents: { codex: { command: 'mine-bin', args: ['--s'] }, gemini: { args: ['--only-args'] } } }));
    expect(r.resolve('codex')).toEqual({ name: 'codex', command: join(bin, 'mine-bin'), args: ['--s'], source: 'settings', promptMode: 'argument' });
    expect(r.resolve('gemini')).toEqual({ name: 'gemini', command: join(bin, 'gemini'), args: ['--only-args'], source: 'settings', promptMode: 'typed' });

    const withEnv = createAgentResolver({ env: { PATH: bin, HAPI_AGENT_CODEX_COMMAND: `${join(bin, 'claude')} --flag "two words"` }, settingsFile: settings });
    expect(withEnv.resolve('codex')).toEqual({ name: 'codex', command: join(bin, 'claude'), args: ['--flag', 'two words'], source: 'env', promptMode: 'argument' });
    expect(withEnv.knownAgents()).toEqual(['claude', 'codex', 'gemini', 'opencode']);
    expect(withEnv.availableAgents()).toEqual(['claude', 'codex', 'gemini']);
  });

  it('gives each agent its prompt mode: settings.json, else argument for claude and codex, typed for the others', () => {
    const { bin, settings } = setup();
    writeFileSync(settings, JSON.stringify({ agents: { claude: { promptMode: 'typed' }, gemini: { promptMode: 'argument' }, aider: { command: 'claude' } } }));
    const r = createAgentResolver({ env: { PATH: bin, HAPI_AGENT_OPENCODE_COMMAND: join(bin, 'claude') }, settingsFile: settings });
    expect(r.resolve('claude').promptMode).toBe('typed');
    expect(r.resolve('gemini').promptMode).toBe('argument');
    expect(r.resolve('aider').promptMode).toBe('typed');
    expect(r.resolve('opencode').promptMode).toBe('typed');
    writeFileSync(settings, JSON.stringify({ agents: { x: { promptMode: 'stdin' } } }));
    expect(() => r.resolve('x')).toThrow(`settings file ${settings}: agents.x.promptMode must be "argument" or "typed"`);
    // An agent the environment configures alone keeps the built-in default over a broken file.
    expect(r.resolve('opencode').promptMode).toBe('typed');
  });

  it('maps names to env vars', () => {
    expect(agentEnvVar('codex')).toBe('HAPI_AGENT_CODEX_COMMAND');
    expect(agentEnvVar('my-agent.v2')).toBe('HAPI_AGENT_MY_AGENT_V2_COMMAND');
  });

  it('rejects malformed settings with the file and field named', () => {
    const { bin, settings } = setup();
    const r = createAgentResolver({ env: { PATH: bin }, settingsFile: settings });
    writeFileSync(settings, JSON.stringify({ agents: { x: { command: 5 } } }));
    expect(() => r.resolve('x')).toThrow(`settings file ${settings}: agents.x.command must be a non-empty string`);
    writeFileSync(settings, JSON.stringify({ agents: { x: { args: 'a' } } }));
    expect(() => r.resolve('x')).toThrow(/agents.x.args must be an array of strings/);
    writeFileSync(settings, '[]');
    expect(() => r.resolve('x')).toThrow(/must contain a JSON object/);
  });
});
