/** `hapi runner start|start-sync|stop|status|list|stop-session|logs`. */
import type { Command } from 'commander';

export function registerRunnerCommands(_program: Command): void {}
