import { useEffect, useState } from 'preact/hooks';
import { ApiError, newRequestId, spawnSession } from '../api.js';
import { splitAgentArgs } from '../agent-args.js';
import { machineName, shortId } from '../format.js';
import type { Machine, SpawnRequest } from '../types.js';

type Phase =
  | { kind: 'idle' }
  | { kind: 'starting' }
  | { kind: 'approval'; directory: string; request: SpawnRequest; machineId: string }
  | { kind: 'started'; sessionId: string; directory: string; machine: string }
  | { kind: 'failed'; message: string };

/**
 * Starts a session: machine, directory, agent, optional git worktree, the agent's first input
 * (its task) and extra agent arguments. A missing directory is
 * created only after the person approves it; the runner's errors are shown as it wrote them.
 */
export function StartSession(props: { machines: Machine[] }) {
  const online = props.machines.filter((m) => m.online);
  const [machineId, setMachineId] = useState('');
  const [directory, setDirectory] = useState('');
  const [agent, setAgent] = useState('');
  const [useWorktree, setUseWorktree] = useState(false);
  const [branch, setBranch] = useState('');
  const [prompt, setPrompt] = useState('');
  const [argsLine, setArgsLine] = useState('');
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });
  // Folded by default, so that on a phone the machines come first.
  const [open, setOpen] = useState(false);

  // Keep a valid machine selected as machines come and go.
  useEffect(() => {
    if (!online.some((m) => m.id === machineId)) setMachineId(online[0]?.id ?? '');
  }, [online.map((m) => m.id).join(','), machineId]);

  const machine = online.find((m) => m.id === machineId);
  const agents = machine?.metadata?.agents ?? [];
  useEffect(() => {
    if (agent && !agents.includes(agent)) setAgent('');
  }, [machineId, agents.join(',')]);

  const run = async (targetId: string, request: SpawnRequest) => {
    setPhase({ kind: 'starting' });
    try {
      const result = await spawnSession(targetId, request);
      const target = props.machines.find((m) => m.id === targetId);
      if (result.kind === 'approval-required') {
        setPhase({ kind: 'approval', directory: result.directory, request, machineId: targetId });
      } else {
        setPhase({
          kind: 'started',
          sessionId: result.session.id,
          directory: result.session.directory ?? request.directory,
          machine: target ? machineName(target) : targetId,
        });
      }
    } catch (err) {
      setPhase({ kind: 'failed', message: err instanceof ApiError ? err.message : String(err) });
    }
  };

  const submit = (e: Event) => {
    e.preventDefault();
    if (!machine || !directory.trim()) return;
    const args = splitAgentArgs(argsLine);
    if (!args.ok) return setPhase({ kind: 'failed', message: args.error });
    const request: SpawnRequest = { directory: directory.trim(), requestId: newRequestId() };
    if (agent) request.agent = agent;
    if (args.args.length > 0) request.agentArgs = args.args;
    // A blank prompt is no prompt (the hub refuses an empty one).
    if (prompt.trim()) request.prompt = prompt;
    if (useWorktree) request.worktree = branch.trim() ? { branch: branch.trim() } : {};
    void run(machine.id, request);
  };

  const approve = () => {
    if (phase.kind !== 'approval') return;
    // A new request id: the first request spawned nothing.
    void run(phase.machineId, { ...phase.request, approveCreateDirectory: true, requestId: newRequestId() });
  };

  const busy = phase.kind === 'starting';

  return (
    <details class="card start-session" open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>
        <h2>Start a session</h2>
      </summary>
      {online.length === 0 ? (
        <p class="muted">No machine is online. Start a runner with <code>hapi runner start</code> on a machine connected to this hub.</p>
      ) : (
        <form onSubmit={submit}>
          <div class="field">
            <label for="spawn-machine">Machine</label>
            <select id="spawn-machine" value={machineId} onChange={(e) => setMachineId(e.currentTarget.value)} disabled={busy}>
              {online.map((m) => (
                <option key={m.id} value={m.id}>
                  {machineName(m)}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="spawn-directory">Directory</label>
            <input
              id="spawn-directory"
              type="text"
              value={directory}
              onInput={(e) => setDirectory(e.currentTarget.value)}
              placeholder={machine?.metadata?.homeDir ? `${machine.metadata.homeDir}/project` : '/path/to/project'}
              autocapitalize="off"
              autocomplete="off"
              spellcheck={false}
              required
              disabled={busy}
            />
          </div>
          <div class="field">
            <label for="spawn-agent">Agent</label>
            <select id="spawn-agent" value={agent} onChange={(e) => setAgent(e.currentTarget.value)} disabled={busy}>
              <option value="">default</option>
              {agents.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="spawn-prompt">Prompt (optional)</label>
            <textarea
              id="spawn-prompt"
              rows={3}
              value={prompt}
              onInput={(e) => setPrompt(e.currentTarget.value)}
              placeholder="The agent's task, e.g. fix the failing test"
              disabled={busy}
            />
          </div>
          <div class="field">
            <label for="spawn-args">Agent arguments (optional)</label>
            <input
              id="spawn-args"
              type="text"
              value={argsLine}
              onInput={(e) => setArgsLine(e.currentTarget.value)}
              placeholder='e.g. --model "opus"'
              autocapitalize="off"
              autocomplete="off"
              spellcheck={false}
              disabled={busy}
            />
          </div>
          <div class="field checkbox">
            <input
              id="spawn-worktree"
              type="checkbox"
              checked={useWorktree}
              onChange={(e) => setUseWorktree(e.currentTarget.checked)}
              disabled={busy}
            />
            <label for="spawn-worktree">In a new git worktree</label>
          </div>
          {useWorktree && (
            <div class="field">
              <label for="spawn-branch">Branch (optional)</label>
              <input
                id="spawn-branch"
                type="text"
                value={branch}
                onInput={(e) => setBranch(e.currentTarget.value)}
                placeholder="hapi/<session id>"
                autocapitalize="off"
                autocomplete="off"
                spellcheck={false}
                disabled={busy}
              />
            </div>
          )}
          <button type="submit" class="primary" disabled={busy || !directory.trim() || !machine}>
            {busy ? 'Starting…' : 'Start session'}
          </button>
        </form>
      )}

      {phase.kind === 'approval' && (
        <div class="confirm" role="alertdialog" aria-label="Create the directory?">
          <p>
            The directory <code class="path">{phase.directory}</code> does not exist. Create it and start the session?
          </p>
          <div class="actions">
            <button type="button" class="primary" onClick={approve}>
              Create directory and start
            </button>
            <button type="button" onClick={() => setPhase({ kind: 'idle' })}>
              Cancel
            </button>
          </div>
        </div>
      )}
      {phase.kind === 'started' && (
        <p class="notice" role="status">
          Started session <code>{shortId(phase.sessionId)}</code> in <code class="path">{phase.directory}</code> on{' '}
          {phase.machine}.
        </p>
      )}
      {phase.kind === 'failed' && (
        <p class="error" role="alert">
          {phase.message}
        </p>
      )}
    </details>
  );
}
