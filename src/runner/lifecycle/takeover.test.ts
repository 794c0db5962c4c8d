import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { awaitCandidateReady, CANDIDATE_GO, CANDIDATE_READY, CandidateFailed, letCandidateTakeOver, signalReadyAndAwaitGo } from './takeover.js';

describe('take-over protocol, candidate side', () => {
  it('announces readiness and resolves on GO', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (d) => (out += d));
    const waiting = signalReadyAndAwaitGo(stdin, stdout);
    expect(out).toBe(`${CANDIDATE_READY}\n`);
    stdin.end(`${CANDIDATE_GO}\n`);
    await expect(waiting).resolves.toBeUndefined();
  });

  it('gives up when its stdin ends without GO (the `runner start` that launched it is gone)', async () => {
    const stdin = new PassThrough();
    const waiting = signalReadyAndAwaitGo(stdin, new PassThrough());
    stdin.end();
    await expect(waiting).rejects.toThrow(/take-over cancelled/);
  });
});

describe('take-over protocol, parent side (real child processes)', () => {
  const node = (script: string) => spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  const collect = (child: ReturnType<typeof node>) => {
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    return () => err;
  };

  it('resolves once the candidate is ready, and the candidate then gets GO', async () => {
    const child = node(
      `process.stdout.write('${CANDIDATE_READY}\\n'); let i=''; process.stdin.on('data', d => i += d); process.stdin.on('end', () => process.exit(i.includes('${CANDIDATE_GO}') ? 0 : 9));`,
    );
    await awaitCandidateReady(child, collect(child), 10_000);
    const exited = new Promise((r) => child.on('exit', r));
    letCandidateTakeOver(child);
    expect(await exited).toBe(0);
  });

  it('rejects with the candidate stderr when it exits during its self-check', async () => {
    const child = node(`process.stderr.write('hapi: self-check failed: broken\\n'); process.exit(1);`);
    const err = await awaitCandidateReady(child, collect(child), 10_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CandidateFailed);
    expect((err as Error).message).toBe('it exited with code 1 during its self-check: self-check failed: broken');
  });

  it('kills a candidate that does not become ready in time', async () => {
    const child = node('setInterval(() => {}, 1e6)');
    const exited = new Promise((r) => child.on('exit', (_c, sig) => r(sig)));
    await expect(awaitCandidateReady(child, collect(child), 200)).rejects.toThrow(/did not finish within 200 ms/);
    expect(await exited).toBe('SIGKILL');
  });
});
