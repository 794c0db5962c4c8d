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
