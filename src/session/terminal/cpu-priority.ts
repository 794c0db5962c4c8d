/**
 * A session process's own work (relaying the PTY, parsing its output into the screen model,
 * serving viewers) yields the CPU to the runner and the hub, so that terminal traffic never
 * delays control traffic on a busy machine. With Linux's autogroup scheduling (the default on
 * desktops and most servers) every process session gets an equal share of the CPU whatever its
 * processes' nice values: a session process is detached into a session of its own, so twenty
 * streaming sessions got twenty shares against the runner's one (bench/hub-attach.mjs measured
 * relayed GetRunnerStatus p99 at 74-98 ms under load, 19-23 ms with this). The share of the
 * session process's own autogroup is lowered; the agent (node-pty starts it in a session and
 * autogroup of its own) keeps its priority.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** Tries for this long: without CAP_SYS_ADMIN, Linux allows one autogroup change per 100 ms, machine-wide. */
const RETRY_FOR_MS = 5_000;

/**
 * Lowers the CPU share of this process's autogroup to `nice` (1-19), in the background. Only
 * when this process leads its own session (so the autogroup is its alone, never a user's shell);
 * a no-op elsewhere, when `nice` is 0, or when the kernel has no autogroups.
 */
export function yieldCpuToControl(nice: number, note: (message: string) => void): void {
  if (process.platform !== 'linux' || nice <= 0) return;
  try {
    // Fields after "(comm) ": state ppid pgrp session ...
    const stat = readFileSync('/proc/self/stat', 'utf8');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]) !== process.pid) return;
  } catch {
    return;
  }
  const deadline = Date.now() + RETRY_FOR_MS;
  const attempt = () => {
    try {
      writeFileSync('/proc/self/autogroup', String(nice));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' && Date.now() < deadline) setTimeout(attempt, 50 + Math.random() * 100).unref();
      // ENOENT: no autogroups (the kernel's or the container's choice); the scheduler shares as it does.
      else if (code !== 'ENOENT') note(`cannot lower the session's CPU share: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  attempt();
}
