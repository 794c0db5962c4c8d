// The CLI's output piped into a reader that stops early (`hapi --help | head -1`): hapi ends
// quietly with its own exit status instead of dying of an unhandled EPIPE with a stack trace.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI } from './harness.js';

describe('hapi writing into a closed pipe', () => {
  it('exits 0 without an EPIPE stack trace when the reader goes away', async () => {
    // The reader is gone before hapi writes, as when `head` has already exited.
    const child = spawn(process.execPath, [CLI, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  });
});
