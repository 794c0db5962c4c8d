/**
 * The attach client, loaded lazily by the CLI (dist/lazy/attach.mjs): `hapi` in a terminal
 * (terminal-launch.ts) and `hapi attach` (attach-command.ts). Transport (transport.ts), the
 * protocol with its reconnects (attach-client.ts) and the person's terminal (terminal-viewer.ts)
 * are separate: `hapi attach --machine` (src/cli/commands/hub-remote.ts) reaches a session
 * through the hub with its own transport (hub-transport.ts) and the same client.
 */
export { attachTerminal, type TerminalAttachOptions, type TerminalOutcome } from './terminal-viewer.js';
export { startAttach, type AttachClient, type AttachOutcome, type ViewerSink } from './attach-client.js';
export { createSessionSocketTransport, type AttachStream, type AttachTransport } from './transport.js';
export { runAttachCommand } from './attach-command.js';
