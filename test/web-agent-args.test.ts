// The start form's agent-arguments field (web/src/agent-args.ts): split as a shell splits words.
import { describe, expect, it } from 'vitest';
import { splitAgentArgs } from '../web/src/agent-args.js';

describe('splitAgentArgs', () => {
  it('splits on whitespace, keeps quoted words whole, expands nothing', () => {
    expect(splitAgentArgs('')).toEqual({ ok: true, args: [] });
    expect(splitAgentArgs('  --model "opus 4"  -v ')).toEqual({ ok: true, args: ['--model', 'opus 4', '-v'] });
    expect(splitAgentArgs(`'$HOME' a\\ b "x\\"y" ''`)).toEqual({ ok: true, args: ['$HOME', 'a b', 'x"y', ''] });
  });

  it('says what is wrong with an unterminated quote', () => {
    expect(splitAgentArgs('--model "opus')).toEqual({ ok: false, error: 'unterminated " quote in the agent arguments' });
  });
});
