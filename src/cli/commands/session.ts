/** `hapi [--agent <name>] [agent args...]`: a session in the current directory. */
import type { Command } from 'commander';

export function registerSessionCommand(_program: Command): void {}
