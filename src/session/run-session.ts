/**
 * A session process: runs one agent in the current directory and keeps the runner informed.
 *
 * - live (`--hapi-starting-mode remote`): the agent runs in a pseudo-terminal this process
 *   owns, served as SessionService on the session's own socket (live-session.ts); its raw output
 *   goes to stdout, the session log. Two kinds:
 *   - spawned by the runner (`--started-by runner`): if the report to the runner fails, the
 *     agent is stopped and the process exits: a session nobody tracks is a ghost.
 *   - started from a terminal (`--started-by terminal`): `hapi` in a terminal launches this
 *     process detached and attaches the terminal to it as a viewer (terminal-launch.ts), so the
 *     session outlives the terminal; the terminal's size comes as `--hapi-terminal-size`.
 * - direct (`hapi` whose stdin or stdout is not a terminal: scripts, pipes): makes sure a runner
 *   runs (starts one if needed; if that fails, says so in one line and runs the agent anyway),
 *   and the agent inherits this process's stdin, stdout and stderr.
 *
 * A session started from a terminal (either kind) that no runner knows (none could be started,
 * or the report failed) keeps looking for one every HAPI_SESSION_REPORT_RETRY_MS and reports
 * itself late, so a runner started afterwards lists it, stops it and tells the hub about it.
 *
 * Exits with the agent's exit code, or 128 + signal number when the agent was killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { constants } from 'node:os';
import { isValidSessionId } from '../contract/types.js';
import type { ScreenText } from '../contract/session-types.js';
import { sessionConfig, type Env, type SessionConfig } from '../shared/config.js';
import { InvalidArgumentError, errnoCode, isHapiError } from '../shared/errors.js';
import { hapiPaths, sessionSocketPathFor } from '../shared/paths.js';
import { createAgentResolver, type ResolvedAgent } from '../runner/sessions/agents.js';
import { SESSION_PROMPT_ENV } from '../runner/sessions/spawner.js';
import { checkPrompt } from '../contract/limits.js';
import { createRunnerReporter, type RunnerReporter, type StartedReport } from './runner-reporter.js';

export interface SessionOptions {
  agent?: string;
  agentArgs: string[];
  /** 'remote': the agent runs in a PTY this process owns (runner-spawned, or launched detached by `hapi` in a terminal); 'local': it inherits this process's stdio. */
  startingMode: 'local' | 'remote';
  startedBy: 'runner' | 'terminal';
  sessionId?: string;
  env?: Env;
  cwd?: string;
  /** A live session's terminal size at start (a terminal session's window). */
  terminalSize?: { cols: number; rows: number };
}

/** How long the agent gets between SIGTERM and SIGKILL when the session gives up on it. */
const AGENT_STOP_GRACE_MS = 5_000;
const REPORT_ENDED_TIMEOUT_MS = 2_000;

function note(message: string): void {
  process.stderr.write(`hapi: ${message}\n`);
}

/** Runs the session to completion; resolves with the exit code for the process. */
export async function runSession(opts: SessionOptions): Promise<number> {
  // The runner hands a spawn's prompt over in the environment; the agent never sees it there.
  const { [SESSION_PROMPT_ENV]: promptFromRunner, ...env } = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  // live: the agent runs in a PTY this process owns; strict: a runner waits for the report.
  const live = opts.startingMode === 'remote';
  const strict = live && opts.startedBy === 'runner';
  const sessionId = opts.sessionId?.trim() || randomUUID();
  if (!isValidSessionId(sessionId)) throw new InvalidArgumentError(`invalid --hapi-session-id ${JSON.stringify(sessionId)}`);
  const paths = hapiPaths(env);
  const config = sessionConfig(env);
  const agent = createAgentResolver({ env, settingsFile: paths.settingsFile, cwd }).resolve(opts.agent);
  const prompt = strict ? initialPrompt(promptFromRunner) : undefined;

  let runnerAvailable = true;
  if (!live) {
    try {
      // Lazy: only terminal sessions may start a runner.
      const { ensureRunner } = await import('../runner/client/start.js');
      await ensureRunner({ env });
    } catch (err) {
      runnerAvailable = false;
      note(`runner not available (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); running the session without it`);
    }
  } else {
    note(`session ${sessionId}: running agent '${agent.name}' (${agent.command}) in ${cwd}`);
  }

  const reporter = createRunnerReporter({ env });
  const child = live
    ? await startLiveAgent(agent, opts, {
        cwd,
        env,
        sessionId,
        socketPath: sessionSocketPathFor(paths.home, sessionId, env),
        config,
        size: opts.terminalSize,
        onActivityChange: () => reporter.activityChanged(sessionId),
        prompt,
      })
    : await startAgent(agent, opts.agentArgs, { cwd, env, sessionId });
  if (typeof child === 'number') {
    reporter.close();
    return child;
  }
  const exited = child.exited;
  const removeForwarding = forwardSignals(child, live);

  const reportTimeoutMs = config.reportTimeoutMs;
  const report: StartedReport = { sessionId, pid: process.pid, startedBy: opts.startedBy, directory: cwd, agent: agent.name, startedAt: new Date() };
  // Tests only (test/shutdown-inflight.test.ts): a session that reports late, so a spawn is
  // still waiting for it when the runner stops. Undocumented; never set in normal use.
  const testDelayMs = Number(env.HAPI_TEST_SESSION_REPORT_DELAY_MS ?? 0);
  if (strict && testDelayMs > 0) {
    const delay = new AbortController();
    await Promise.race([sleep(testDelayMs, undefined, { signal: delay.signal }).catch(() => undefined), exited]);
    delay.abort();
  }
  // A terminal session whose agent is done stops retrying at once: the person is waiting for
  // the prompt. A runner-spawned one keeps going: the runner waits for that report to settle its spawn.
  const agentDone = new AbortController();
  if (!strict) void exited.then(() => agentDone.abort());
  const started = (
    runnerAvailable
      ? reporter.reportStarted(
          report,
          // A terminal session does not wait long: the person is already using the agent.
          strict ? reportTimeoutMs : Math.min(reportTimeoutMs, 5_000),
          { stopRetrying: agentDone.signal },
        )
      : Promise.reject(new Error('no runner'))
  ).then(
      () => true,
      (err: unknown) => {
        if (!runnerAvailable || agentDone.signal.aborted) return false;
        const why = err instanceof Error ? err.message : String(err);
        if (strict) {
          note(`could not report session ${sessionId} to the runner: ${why}; stopping the agent`);
          stopAgent(child);
        } else {
          note(`could not report this session to the runner (${why}); it will report itself once a runner answers`);
        }
        return false;
      },
    );

  // The screen model and the gRPC server load once the runner knows the session: the spawn
  // waits for the report, not for them (bench/sessions.mjs). A terminal session serves at
  // once: a person's terminal is waiting to attach, and it may have no runner at all.
  void (strict ? started : Promise.resolve()).then(() => child.serve?.());

  // Terminal sessions nobody knows yet look for a runner until the agent is done.
  const late = strict
    ? Promise.resolve(false)
    : started.then((ok) => ok || reportLate(reporter, report, paths.socket, config.lateReportIntervalMs, agentDone.signal));

  const { code, signal } = await exited;
  removeForwarding();
  // The runner keeps it (HAPI_ENDED_SESSION_KEEP_MS), so an ended session still shows how it ended.
  const finalScreen = await child.finalScreen?.().catch(() => undefined);
  await child.close();
  const reported = (await started) || (await late);
  if (reported) {
    await reporter
      .reportEnded({ sessionId, exitCode: code ?? undefined, exitSignal: signal ?? undefined, finalScreen }, REPORT_ENDED_TIMEOUT_MS)
      .catch(() => {
        // The runner also notices the end (process exit, heartbeat prune).
      });
  }
  reporter.close();
  if (live) note(`session ${sessionId}: agent ${signal ? `killed by ${signal}` : `exited with code ${code}`}`);
  if (strict && !reported) return 1;
  return signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1);
}

/** The prompt the runner handed over, checked again (the runner checked it): undefined when none or unusable. */
function initialPrompt(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  try {
    checkPrompt(raw);
    return raw;
  } catch (err) {
    note(`ignoring the spawn's prompt: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

/**
 * Polls for a runner socket every `intervalMs` (a stat, no connection) and reports the session
 * once one answers. Resolves true when reported; false when `stop` fires or the runner refuses
 * the report for good (e.g. the session id is taken).
 */
async function reportLate(reporter: RunnerReporter, report: StartedReport, socketPath: string, intervalMs: number, stop: AbortSignal): Promise<boolean> {
  while (!stop.aborted) {
    try {
      await sleep(intervalMs, undefined, { signal: stop });
    } catch {
      return false;
    }
    if (!existsSync(socketPath)) continue;
    try {
      await reporter.reportStarted(report, 2_000, { stopRetrying: stop });
      return true;
    } catch (err) {
      // Unavailable: the runner is starting or going away; ResourceExhausted: its disk is full
      // (or it tracks its maximum of sessions). Both pass: look again next time.
      if (!isHapiError(err) || (err.kind !== 'Unavailable' && err.kind !== 'ResourceExhausted')) return false;
    }
  }
  return false;
}

/** The agent as the session sees it, whether it runs in our terminal or in a PTY of ours. */
interface RunningAgent {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  kill(signal: NodeJS.Signals): void;
  /** Releases what serves the agent (its terminal socket); called once it exited. */
  close(): Promise<void>;
  /** Its terminal's visible screen, when it runs in a PTY of ours. */
  finalScreen?(): Promise<ScreenText>;
  /** Serves the agent's terminal (a live agent only), called once the session was reported. */
  serve?(): Promise<void>;
}

/** Runs a runner-spawned agent in a PTY of ours (lazy: grpc-js, node-pty, xterm). */
async function startLiveAgent(
  agent: ResolvedAgent,
  opts: SessionOptions,
  o: { cwd: string; env: Env; sessionId: string; socketPath: string; config: SessionConfig; size?: { cols: number; rows: number }; onActivityChange: () => void; prompt?: string },
): Promise<RunningAgent | number> {
  const live = await import('./live-session.js');
  // An agent that takes its task as an argument gets it last, after the spawn's own arguments
  // (`claude [options] [prompt]`, `codex [options] [prompt]`); the others get it typed.
  const { prompt, ...rest } = o;
  const asArgument = prompt !== undefined && agent.promptMode === 'argument';
  const agentArgs = asArgument ? [...opts.agentArgs, prompt] : opts.agentArgs;
  const typedPrompt = asArgument ? undefined : prompt;
  const started = await live.startLiveAgent({ agent, agentArgs, startedBy: opts.startedBy, note, typedPrompt, ...rest });
  if (typeof started === 'number') return started;
  let running = true;
  const exited = started.exited.then((s) => {
    running = false;
    return { code: s.exitCode ?? null, signal: (s.exitSignal as NodeJS.Signals | undefined) ?? null };
  });
  return {
    exited,
    isRunning: () => running,
    kill: (sig) => started.kill(sig),
    close: () => started.close(),
    finalScreen: () => started.screen(),
    serve: () => started.serve(),
  };
}

/** Spawns the agent in our terminal; a number is the exit code when it could not be started at all. */
async function startAgent(agent: ResolvedAgent, agentArgs: string[], o: { cwd: string; env: Env; sessionId: string }): Promise<RunningAgent | number> {
  const child = spawn(agent.command, [...agent.args, ...agentArgs], {
    cwd: o.cwd,
    // The runner recognises this process as that session by these (see session-process.ts).
    env: { ...o.env, HAPI_SESSION_ID: o.sessionId, HAPI_SESSION_PID: String(process.pid) },
    stdio: 'inherit',
  });
  const startError = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (err) => resolve(err));
  });
  if (startError) {
    const code = errnoCode(startError);
    note(`cannot start agent '${agent.name}' (${agent.command}): ${code ?? startError.message}`);
    // Shell conventions: 127 = not found, 126 = found but not executable.
    return code === 'ENOENT' ? 127 : 126;
  }
  child.on('error', () => {
    // e.g. a signal sent after the agent exited; the exit event tells the outcome.
  });
  return wrapChild(child);
}

function wrapChild(child: ChildProcess): RunningAgent {
  const isRunning = () => child.exitCode === null && child.signalCode === null;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { exited, isRunning, kill: (sig) => void child.kill(sig), close: async () => {} };
}

/**
 * Forwards termination signals to the agent and keeps this process alive until the agent
 * exits, so the exit code is the agent's. In an interactive terminal, Ctrl-C already reaches
 * the agent (same foreground process group); forwarding it again would deliver it twice,
 * which agents treat as "quit now".
 */
function forwardSignals(child: RunningAgent, live: boolean): () => void {
  const interactive = !live && process.stdin.isTTY === true;
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = () => {
      if (sig === 'SIGINT' && interactive) return;
      if (child.isRunning()) child.kill(sig);
    };
    handlers.set(sig, handler);
    process.on(sig, handler);
  }
  return () => {
    for (const [sig, handler] of handlers) process.off(sig, handler);
  };
}

function stopAgent(child: RunningAgent): void {
  if (!child.isRunning()) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (child.isRunning()) child.kill('SIGKILL');
  }, AGENT_STOP_GRACE_MS);
  timer.unref();
  void child.exited.then(() => clearTimeout(timer));
}

