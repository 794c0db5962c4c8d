/** The runner's hub link: the stream (hub-link.ts), its relay handler and its state publisher. */
export { createHubLink, defaultMachineMetadata, HUB_LINK_BACKOFF, type HubLink, type HubLinkOptions, type HubLinkClock } from './hub-link.js';
export { loadOrCreateMachineId } from './machine-id.js';
