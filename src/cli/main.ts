#!/usr/bin/env node
/**
 * The hapi CLI entry point. Subcommands live one per file under ./commands and are imported
 * lazily, so `hapi runner status` loads only what it needs (cold start matters).
 */
import { Command, CommanderError } from 'commander';
import { CLI_VERSION } from '../shared/version.js';
import { isHapiError } from '../shared/errors.js';
import { EXIT_FAILURE, EXIT_USAGE, exitCodeOf } from '../shared/exit-codes.js';
import { registerCommands } from './commands/index.js';
import { errorJson, wantsJson } from './json-output.js';

export async function main(argv: string[]): Promise<number> {
  const json = wantsJson(argv);
  const program = new Command('hapi')
    .description('Run AI coding agents on your own machines and drive them from anywhere.')
    .version(CLI_VERSION, '-v, --version', 'print the hapi version')
    .exitOverride()
    // Under --json, commander's own usage errors are reported once, as JSON, by reportError.
    .configureOutput({ writeErr: (s) => (json ? undefined : process.stderr.write(s)) });
  registerCommands(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(err, json);
  }
}

/**
 * The one top-level error handler: a clear message on stderr and an exit code; under `--json`,
 * the same as one JSON object on stderr (json-output.ts).
 */
export function reportError(err: unknown, json = false): number {
  if (json && !(err instanceof CommanderError && err.exitCode === 0)) {
    const e = errorJson(err);
    process.stderr.write(`${JSON.stringify(e)}\n`);
    return e.exitCode;
  }
  if (err instanceof CommanderError) {
    // --help and --version also end here, with exit code 0.
    return err.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  if (isHapiError(err)) {
    process.stderr.write(`hapi: ${err.message}\n`);
    return exitCodeOf(err.kind);
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`hapi: unexpected error: ${message}\n`);
  if (process.env.HAPI_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return EXIT_FAILURE;
}

// `hapi ... | head` closes the pipe early: stop quietly, as a shell tool does, instead of dying
// of an unhandled EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

main(process.argv).then(
  (code) => {
    // Commands that start long-lived servers resolve only when they finish.
    process.exitCode = code;
  },
  (err) => {
    process.exitCode = reportError(err, wantsJson(process.argv));
  },
);
