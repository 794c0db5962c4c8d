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
 * glibc's malloc setting for a session process (GLIBC_TUNABLES, read when the process starts):
 * allocations of 4 KiB and more are mapped on their own and given back when freed. A flood's
 * read buffers (64 KiB each, cut down to what was read) and Buffer pool slabs otherwise end up
 * interleaved with the screen model's long-lived allocations in the main heap, which glibc can
 * then never give back: a session kept 96 MB resident after 100 MB of output, 78-89 MB with
 * this (bench/live.mjs), at the cost of a map and unmap per PTY read. Ignored by other C
 * libraries (musl). The agent does not inherit it (`withoutSessionTunables`).
 */
export const SESSION_GLIBC_TUNABLES = 'glibc.malloc.mmap_threshold=4096';

type EnvLike = Record<string, string | undefined>;

/** The environment for a session process: `env` with SESSION_GLIBC_TUNABLES added (a setting of the person's own for the threshold wins). */
export function sessionProcessEnv<E extends EnvLike>(env: E): E {
  const mine = env.GLIBC_TUNABLES;
  if (mine?.includes('glibc.malloc.mmap_threshold=')) return env;
  return { ...env, GLIBC_TUNABLES: mine ? `${mine}:${SESSION_GLIBC_TUNABLES}` : SESSION_GLIBC_TUNABLES };
}

/** `env` as it was before sessionProcessEnv: what the agent gets. */
export function withoutSessionTunables<E extends EnvLike>(env: E): E {
  const value = env.GLIBC_TUNABLES;
  if (value === undefined || !value.endsWith(SESSION_GLIBC_TUNABLES)) return env;
  const rest = value.slice(0, -SESSION_GLIBC_TUNABLES.length).replace(/:$/, '');
  const out: EnvLike = { ...env };
  if (rest) out.GLIBC_TUNABLES = rest;
  else delete out.GLIBC_TUNABLES;
  return out as E;
}
