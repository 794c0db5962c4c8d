/** What a runner tells the hub about its machine when nothing more specific is known. */
import { homedir, hostname } from 'node:os';
import type { MachineMetadataInfo } from '../../contract/types.js';
import { CLI_VERSION } from '../../shared/version.js';

export function defaultMachineMetadata(partial: Partial<MachineMetadataInfo> = {}): MachineMetadataInfo {
  const host = hostname();
  return {
    hostname: host,
    platform: process.platform,
    arch: process.arch,
    cliVersion: CLI_VERSION,
    displayName: host,
    homeDir: homedir(),
    agents: [],
    ...partial,
  };
}
