/** The runner's hub link: see hub-link.ts. */
export { createHubLink, defaultMachineMetadata, type HubLink, type HubLinkOptions, type HubLinkClock } from './hub-link.js';
export { backoffDelay, createBackoff, DEFAULT_BACKOFF, type BackoffOptions } from '../../shared/backoff.js';
export { loadOrCreateMachineId } from './machine-id.js';
