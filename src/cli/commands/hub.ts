/** `hapi hub`, `hapi auth ...`, and the thin commands over HubService. */
import type { Command } from 'commander';

export function registerHubCommands(_program: Command): void {}
