/** The runner's hub link: see hub-link.ts. */
export { createHubLink, defaultMachineMetadata, type HubLink, type HubLinkOptions, type HubLinkClock, HUB_LINK_BACKOFF } from './hub-link.js';
export { loadOrCreateMachineId } from './machine-id.js';
