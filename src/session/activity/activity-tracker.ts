/**
 * What the agent of this session is doing (DESIGN.md, "Live sessions"): working, waiting for
 * input, asking for approval, exited; and the approval requests its hooks are waiting on.
 *
 * Sources, most reliable first: the agent's hooks (`hapi hook`, through SessionService's
 * ReportActivity and RequestApproval); else a guess from the terminal: output, then quiet for
 * `idleMs`, is waiting_for_input; output again is working. Once a hook has spoken, the guess
 * stops for good in this session: the agent has hooks and they say more than silence does.
 *
 * An approval request waits for a decision (DecideApproval), for `approvalTimeoutMs`, or for its
 * hook to go; when a person's own terminal is in use it is left to the agent's prompt at once.
 * Either way a request left to the terminal stays listed (`atTerminal`) until the agent moves on
 * (its next hook report), so remote viewers see what the terminal shows.
 */
import { randomUUID } from 'node:crypto';
import { FailedPreconditionError, InvalidArgumentError } from '../../shared/errors.js';
import {
  clipActivityText,
  type ActivityStateName,
  type AgentActivityInfo,
  type ApprovalAsk,
  type ApprovalDecisionName,
  type ApprovalOutcome,
  type ApprovalRequestInfo,
} from '../../contract/activity-types.js';

/** Output within this long after someone typed is taken for the echo, not the agent working. */
const ECHO_MS = 250;

export interface ActivityTrackerOptions {
  idleMs: number;
  approvalTimeoutMs: number;
  /** True while a person's own terminal is attached and was typed in lately. */
  personAtTerminal: () => boolean;
  /** Called after every change (the runner is told). */
  onChange?: (activity: AgentActivityInfo) => void;
  now?: () => Date;
}

export interface ActivityTracker {
  current(): AgentActivityInfo;
  /** The terminal wrote output. */
  output(): void;
  /** Someone typed into the terminal. */
  input(): void;
  /** A hook's report: working or waiting_for_input, with a notification message (`notification`: the agent did not move on). */
  report(state: ActivityStateName, message: string, source: string, notification?: boolean): void;
  /** A hook asks; resolves with its outcome. `signal`: the hook went (the request is withdrawn). */
  requestApproval(ask: ApprovalAsk, signal: AbortSignal): Promise<ApprovalOutcome>;
  /** Answers a pending request. FailedPrecondition when it is not pending or the decision is not offered. */
  decide(requestId: string, decision: ApprovalDecisionName, message: string): ApprovalRequestInfo;
  exited(): void;
  close(): void;
}

interface Pending {
  request: ApprovalRequestInfo;
  resolve?: (outcome: ApprovalOutcome) => void;
}

export function createActivityTracker(o: ActivityTrackerOptions): ActivityTracker {
  const now = o.now ?? (() => new Date());
  let base: ActivityStateName = 'working';
  let guess = true;
  let source = 'terminal';
  let message = '';
  let since = now();
  let hooksSpoke = false;
  let ended = false;
  let lastInputAt = -Infinity;
  let idleTimer: NodeJS.Timeout | undefined;
  const pending = new Map<string, Pending>();

  function current(): AgentActivityInfo {
    const requests = [...pending.values()].map((p) => ({ ...p.request, choices: [...p.request.choices] }));
    const state: ActivityStateName = ended ? 'exited' : requests.length > 0 ? 'needs_approval' : base;
    return { state, guess: state === 'needs_approval' || state === 'exited' ? false : guess, message, requests, since, source };
  }

  let last = current();
  function changed(): void {
    const next = current();
    if (next.state !== last.state) since = now();
    const out = { ...next, since };
    last = out;
    o.onChange?.(out);
  }

  function setBase(state: ActivityStateName, isGuess: boolean, from: string, note: string): void {
    if (ended) return;
    const differs = state !== base || isGuess !== guess || from !== source || note !== message;
    base = state;
    guess = isGuess;
    source = from;
    message = note;
    if (differs) changed();
  }

  /**
   * Output restarts the quiet countdown. Output comes as thousands of reads a second during a
   * burst: each only notes its time, and the one timer, when it fires early, waits out the rest.
   */
  let lastOutputAt = -Infinity;
  function armIdle(): void {
    lastOutputAt = performance.now();
    idleTimer ??= setTimeout(idleCheck, o.idleMs).unref();
  }
  function idleCheck(): void {
    const quietFor = performance.now() - lastOutputAt;
    if (quietFor < o.idleMs) {
      idleTimer = setTimeout(idleCheck, o.idleMs - quietFor).unref();
      return;
    }
    idleTimer = undefined;
    if (!hooksSpoke) setBase('waiting_for_input', true, 'terminal', '');
  }
  function disarmIdle(): void {
    clearTimeout(idleTimer);
    idleTimer = undefined;
  }

  function settle(id: string, outcome: ApprovalOutcome): void {
    const p = pending.get(id);
    if (!p) return;
    p.resolve?.(outcome);
    p.resolve = undefined;
    if (outcome.decision === 'none') p.request.atTerminal = true;
    else pending.delete(id);
    changed();
  }

  function clearAtTerminal(): boolean {
    let any = false;
    for (const [id, p] of pending) {
      if (p.request.atTerminal) {
        pending.delete(id);
        any = true;
      }
    }
    return any;
  }

  return {
    current: () => ({ ...current(), since }),
    output() {
      if (hooksSpoke || ended) return;
      if (performance.now() - lastInputAt > ECHO_MS && base !== 'working') setBase('working', true, 'terminal', '');
      armIdle();
    },
    input() {
      lastInputAt = performance.now();
    },
    report(state, note, from, notification = false) {
      if (state !== 'working' && state !== 'waiting_for_input') throw new InvalidArgumentError('a hook reports working or waiting_for_input');
      hooksSpoke = true;
      disarmIdle();
      // The agent moved on: whatever its terminal prompt asked has been answered there.
      const cleared = !notification && clearAtTerminal();
      const before = last;
      setBase(state, false, from, clipActivityText(note));
      if (cleared && before === last) changed();
    },
    requestApproval(ask, signal) {
      if (!ask.tool) throw new InvalidArgumentError('tool is required');
      hooksSpoke = true;
      disarmIdle();
      const request: ApprovalRequestInfo = {
        id: randomUUID(),
        tool: clipActivityText(ask.tool),
        command: clipActivityText(ask.command),
        file: clipActivityText(ask.file),
        description: clipActivityText(ask.description),
        choices: ask.sessionAllowSupported ? ['allow', 'allow_session', 'deny'] : ['allow', 'deny'],
        requestedAt: now(),
        atTerminal: false,
      };
      if (ended) return Promise.resolve({ requestId: request.id, decision: 'none', message: '', reason: 'exited' });
      const entry: Pending = { request };
      pending.set(request.id, entry);
      source = ask.source || source;
      guess = false;
      if (o.personAtTerminal()) {
        request.atTerminal = true;
        changed();
        return Promise.resolve({ requestId: request.id, decision: 'none', message: '', reason: 'terminal' });
      }
      return new Promise<ApprovalOutcome>((resolve) => {
        const timer = setTimeout(() => settle(request.id, { requestId: request.id, decision: 'none', message: '', reason: 'timeout' }), o.approvalTimeoutMs);
        timer.unref();
        const onAbort = () => {
          // The hook went (the agent cancelled the call, or was killed): withdraw the request.
          if (pending.get(request.id)?.resolve) {
            pending.delete(request.id);
            entry.resolve = undefined;
            changed();
          }
        };
        signal.addEventListener('abort', onAbort, { once: true });
        entry.resolve = (outcome) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve(outcome);
        };
        changed();
      });
    },
    decide(requestId, decision, note) {
      const p = pending.get(requestId);
      if (!p || !p.resolve) {
        const why = p ? 'it is being answered at the terminal' : 'it is no longer pending (answered, withdrawn or timed out)';
        throw new FailedPreconditionError(`approval request ${requestId} cannot be decided: ${why}`, { requestId });
      }
      if (decision === 'none' || !p.request.choices.includes(decision)) {
        throw new FailedPreconditionError(`approval request ${requestId} does not offer ${decision} (choices: ${p.request.choices.join(', ')})`, { requestId });
      }
      const request = { ...p.request };
      // Answered remotely: the agent goes on (with the tool, or without it after a deny).
      base = 'working';
      guess = false;
      message = '';
      settle(requestId, { requestId, decision, message: decision === 'deny' ? clipActivityText(note) : '', reason: '' });
      return request;
    },
    exited() {
      if (ended) return;
      for (const [id, p] of pending) if (p.resolve) settle(id, { requestId: id, decision: 'none', message: '', reason: 'exited' });
      pending.clear();
      ended = true;
      disarmIdle();
      changed();
    },
    close() {
      disarmIdle();
    },
  };
}
