/**
 * The take-over protocol of a hand-off (and of any `hapi runner start` that replaces a running
 * runner): the new runner proves it can run BEFORE the old one is stopped.
 *
 * 1. `runner start` launches the new daemon as a candidate (`runner start-sync --candidate`),
 *    with pipes on its stdin and stdout, while the old runner keeps running;
 * 2. the candidate loads everything it needs (the lazy daemon modules, its configuration) and
 *    runs its self-check (preflight.ts), touching neither the lock, nor the socket, nor the
 *    state file; then it writes CANDIDATE_READY on stdout and waits;
 * 3. only then does `runner start` stop the old runner, and writes GO on the candidate's stdin:
 *    the candidate takes the lock, socket and state and re-adopts the sessions.
 * A candidate that fails (exits, or does not answer in time) is killed and the old runner is
 * never stopped. A candidate whose stdin closes without GO (its `runner start` died) exits.
 *
 * Node builtins only: both halves live in the small CLI bundle.
 */
import type { ChildProcess } from 'node:child_process';

/** The line a candidate writes on stdout once its self-check passed. */
export const CANDIDATE_READY = 'hapi-runner-candidate-ready';
/** The line `runner start` writes on the candidate's stdin once the old runner has stopped. */
export const CANDIDATE_GO = 'hapi-runner-take-over';

/** Why a candidate did not become ready. */
export class CandidateFailed extends Error {}

/**
 * Parent side, step 2: resolves once the candidate wrote CANDIDATE_READY; rejects with
 * CandidateFailed (the candidate's stderr as the reason) when it exits first or the deadline
 * passes. The candidate is killed on failure.
 */
export function awaitCandidateReady(child: ChildProcess, stderr: () => string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const settle = (err?: Error) => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      if (!err) return resolve();
      child.kill('SIGKILL');
      reject(err);
    };
    const why = (what: string) => {
      const text = stderr().trim().replace(/^hapi: /, '');
      return new CandidateFailed(text ? `${what}: ${text}` : what);
    };
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').includes(CANDIDATE_READY)) settle();
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      // Let the last stderr bytes arrive before quoting them.
      setImmediate(() => settle(why(`it exited with ${signal ? `signal ${signal}` : `code ${code}`} during its self-check`)));
    const onError = (err: Error) => settle(why(`it could not be launched (${err.message})`));
    const timer = setTimeout(() => settle(why(`its self-check did not finish within ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/** Parent side, step 3: the old runner is gone; the candidate may take over. */
export function letCandidateTakeOver(child: ChildProcess): void {
  child.stdin!.end(`${CANDIDATE_GO}\n`);
  child.stdout!.destroy();
}

/**
 * Candidate side: announces readiness and waits for GO. Rejects when stdin ends without it
 * (the `runner start` that launched this candidate is gone, or decided against the take-over).
 */
export function signalReadyAndAwaitGo(stdin: NodeJS.ReadableStream = process.stdin, stdout: NodeJS.WritableStream = process.stdout): Promise<void> {
  return new Promise((resolve, reject) => {
    let input = '';
    const done = (err?: Error) => {
      stdin.off('end', onEnd);
      stdin.off('error', onEnd);
      if (err) return reject(err);
      // Keep reading to the end (it follows GO at once), so the pipe closes and never keeps
      // the runner's event loop alive after its shutdown.
      stdin.off('data', onData);
      stdin.on('data', () => {});
      stdin.on('error', () => {});
      resolve();
    };
    const onData = (d: Buffer | string) => {
      input += d.toString();
      if (input.split('\n').includes(CANDIDATE_GO)) done();
    };
    const onEnd = () => done(new Error('take-over cancelled: the `hapi runner start` that launched this runner is gone'));
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.once('error', onEnd);
    stdout.write(`${CANDIDATE_READY}\n`);
  });
}
