import type { Env } from './config.js';

/**
 * Node flags for a session process (`node <flags> <hapi cli> ...`), whoever starts it.
 *
 * A session's screen model turns every output byte into short-lived objects; with V8's default
 * young generation (semi-spaces growing to 16 MB each) a session kept ~60 MB more resident
 * memory after a 100 MB flood than with 2 MB semi-spaces, at the same throughput
 * (bench/live.mjs). --expose-gc: once the output is quiet after a flood, the session runs one
 * full collection, which gives back the parser's garbage at once instead of many seconds later
 * (src/session/terminal/idle-collector.ts). The flags are the process's own: they are not in
 * the environment the agent inherits, so an agent written in node keeps node's defaults.
 */
export const SESSION_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--expose-gc'];

/**
 * Environment a session process runs with, besides what it inherits. MALLOC_MMAP_THRESHOLD_:
 * glibc serves allocations of 64 KiB and up (a viewer's output chunks and their encoded
 * messages, some 3,000 per 100 MB) with mappings of their own, given back whole when freed; from
 * its heap, interleaved with the scrollback's lines, they left it fragmented: a session kept
 * 85.9 MB resident 20 s after a 100 MB flood, 76.1 MB with it (bench/live.mjs's flood, the same
 * machine). A variable the person set already is left as it is.
 */
export const SESSION_PROCESS_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '65536' };

/** Lists the variables sessionProcessEnv added, so that the agent does not inherit them. */
const SESSION_OWN_ENV = 'HAPI_SESSION_OWN_ENV';

/** The environment to start a session process with: `env` and SESSION_PROCESS_ENV (where `env` has none of its own). */
export function sessionProcessEnv(env: Env): Env {
  const added = Object.keys(SESSION_PROCESS_ENV).filter((name) => env[name] === undefined);
  return { ...env, ...Object.fromEntries(added.map((name) => [name, SESSION_PROCESS_ENV[name]])), [SESSION_OWN_ENV]: added.length > 0 ? added.join(',') : undefined };
}

/** A session process's environment without what sessionProcessEnv added: the agent's starting point. */
export function withoutSessionProcessEnv(env: Env): Env {
  const out = { ...env };
  for (const name of (env[SESSION_OWN_ENV] ?? '').split(',')) if (name in SESSION_PROCESS_ENV) delete out[name];
  delete out[SESSION_OWN_ENV];
  return out;
}
