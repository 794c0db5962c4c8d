// `hapi completion bash|zsh|fish` from the built CLI: the bash script sourced in a real bash and
// asked what it completes (its COMPREPLY, built with compgen); the zsh and fish scripts checked
// with `zsh -n` / `fish -n` where those shells are installed (skipped, with a warning, where not).
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAllHomes, createTestHome } from './harness.js';

afterAll(cleanupAllHomes);

const has = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;
const th = createTestHome();

async function script(shell: string): Promise<string> {
  const r = await th.cli(['completion', shell]);
  expect(r.code, r.stderr).toBe(0);
  const file = join(th.home, `hapi.${shell}`);
  writeFileSync(file, r.stdout);
  return file;
}

/** What bash completes for the words typed (the last one is the word being completed). */
function bashComplete(file: string, cases: string[][], cwd: string): string[][] {
  const calls = cases
    .map((words) => `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _hapi; printf '%s\\n' "\${COMPREPLY[*]}"`)
    .join('\n');
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', `source '${file}'\n${calls}`], { cwd, encoding: 'utf8' });
  return out.split('\n').slice(0, cases.length).map((l) => l.split(' ').filter(Boolean).sort());
}

describe('hapi completion', () => {
  it('bash: commands, subcommands, options, agents, argument choices and files, from the command tree', async () => {
    const file = await script('bash');
    writeFileSync(join(th.home, 'notes.txt'), '');
    const [top, ru, runnerSt, statusJ, sessionsA, agent, shells, helpRu, afterDashes, auth, spawnDir, hidden] = bashComplete(
      file,
      [
        ['hapi', ''],
        ['hapi', 'ru'],
        ['hapi', 'runner', 'st'],
        ['hapi', 'runner', 'status', '--j'],
        // `runner` here is the value of --machine, not the command.
        ['hapi', 'sessions', '--machine', 'runner', '--a'],
        ['hapi', '--agent', ''],
        ['hapi', 'completion', ''],
        ['hapi', 'help', 'ru'],
        ['hapi', '--', 'not'],
        ['hapi', 'auth', ''],
        ['hapi', 'spawn', '--machine', 'laptop', 'no'],
        ['hapi', 'runner', 'start-sync', '--c'],
      ],
      th.home,
    );
    // Every command `hapi --help` lists, and nothing hidden.
    const help = (await th.cli(['--help'])).stdout;
    const commands = help.slice(help.indexOf('Commands:'));
    const listed = [...commands.slice(0, commands.indexOf('\n\n')).matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!);
    expect(listed.length).toBeGreaterThan(10);
    expect(top).toEqual([...new Set(listed)].sort());
    expect(ru).toEqual(['runner']);
    expect(runnerSt).toEqual(['start', 'start-sync', 'status', 'stop', 'stop-session']);
    expect(statusJ).toEqual(['--json']);
    expect(sessionsA).toEqual(['--all']);
    expect(agent).toEqual(['claude', 'codex', 'gemini', 'opencode']);
    expect(shells).toEqual(['bash', 'fish', 'zsh']);
    expect(helpRu).toEqual(['runner']);
    expect(afterDashes).toEqual(['notes.txt']);
    expect(auth).toEqual(['login', 'logout', 'status']);
    expect(spawnDir).toEqual(['notes.txt']);
    expect(hidden).toEqual([]);
  });

  it('refuses an unknown shell with exit 2', async () => {
    const r = await th.cli(['completion', 'tcsh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('tcsh');
  });

  for (const shell of ['zsh', 'fish']) {
    if (!has(shell)) console.warn(`SKIPPED: ${shell} is not installed here, so \`${shell} -n\` of \`hapi completion ${shell}\` was not run`);
    it.skipIf(!has(shell))(`${shell}: the script parses (${shell} -n)`, async () => {
      const file = await script(shell);
      const r = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    });
  }
});
