import { describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../shared/exit-codes.js';
import { editDistance, splitAgentArgs, suggestCommands, unknownCommandError, type CommandChoice } from './unknown-command.js';

const COMMANDS: CommandChoice[] = [
  { word: 'runner', run: 'hapi runner' },
  { word: 'status', run: 'hapi runner status' },
  { word: 'stop-session', run: 'hapi runner stop-session' },
  { word: 'hub', run: 'hapi hub' },
  { word: 'machines', run: 'hapi machines' },
  { word: 'sessions', run: 'hapi sessions' },
  { word: 'attach', run: 'hapi attach' },
];

describe('unknown first words', () => {
  it('measures edits', () => {
    expect(editDistance('runner', 'runer')).toBe(1);
    expect(editDistance('status', 'statsu')).toBe(2);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests the closest commands, top-level first, and nothing for an unrelated word', () => {
    expect(suggestCommands('runer', COMMANDS)).toEqual(['hapi runner']);
    expect(suggestCommands('machins', COMMANDS)).toEqual(['hapi machines']);
    expect(suggestCommands('mach', COMMANDS)).toEqual(['hapi machines']);
    expect(suggestCommands('hug', COMMANDS)).toEqual(['hapi hub']);
    expect(suggestCommands('fix', COMMANDS)).toEqual([]);
    expect(suggestCommands('Attach', COMMANDS)).toEqual(['hapi attach']);
  });

  it('an unknown word is exit 2 with suggestions and the `--` form that passes it to the agent', () => {
    const err = unknownCommandError(['statsu', '--json'], COMMANDS);
    expect(exitCodeOf(err.kind)).toBe(2);
    expect(err.message).toBe("unknown command 'statsu'; did you mean 'hapi auth status' or 'hapi runner status'? (arguments for the agent go after --: hapi -- statsu --json)");
    const none = unknownCommandError(['fix the test'], COMMANDS, ['--agent', 'codex']);
    expect(none.message).toBe("unknown command 'fix the test'; see hapi --help (arguments for the agent go after --: hapi --agent codex -- 'fix the test')");
  });

  it('reserved words say what to run even without a command of that name', () => {
    expect(unknownCommandError(['status'], COMMANDS).message).toBe(
      "'status' is not a hapi command; run hapi runner status or hapi auth status (or, for the agent: hapi -- status)",
    );
    expect(unknownCommandError(['logs'], COMMANDS).message).toContain('run hapi runner logs');
    expect(unknownCommandError(['list'], COMMANDS).message).toContain('run hapi runner list or hapi sessions');
  });

  it('an unknown option says where agent options go', () => {
    expect(unknownCommandError(['--resume'], COMMANDS).message).toBe("unknown option '--resume'; arguments for the agent go after --: hapi -- --resume");
  });

  it('splits the command line around the agent arguments commander passed on', () => {
    expect(splitAgentArgs(['--resume'], ['--', '--resume'])).toEqual({ options: [], before: [], after: ['--resume'] });
    expect(splitAgentArgs(['fix it'], ['--agent', 'codex', '--', 'fix it'])).toEqual({ options: ['--agent', 'codex'], before: [], after: ['fix it'] });
    expect(splitAgentArgs(['status'], ['status'])).toEqual({ options: [], before: ['status'], after: [] });
    expect(splitAgentArgs(['fix', 'it'], ['--agent', 'codex', 'fix', 'it'])).toEqual({ options: ['--agent', 'codex'], before: ['fix', 'it'], after: [] });
    expect(splitAgentArgs(['foo', '--', 'bar'], ['foo', '--', 'bar'])).toEqual({ options: [], before: ['foo'], after: ['bar'] });
    expect(splitAgentArgs([], ['--agent', 'codex'])).toEqual({ options: ['--agent', 'codex'], before: [], after: [] });
  });
});
