/** `hapi runner reset-machine-id`: this install's own machine id, after a copied HAPI_HOME or a cloned machine. */
import { readFileSync } from 'node:fs';
import { hapiPaths } from '../../shared/paths.js';
import { resetMachineId as writeNewMachineId } from '../../runner/hub-link/machine-id.js';

export async function resetMachineId(): Promise<void> {
  const file = hapiPaths().machineIdFile;
  let old = '';
  try {
    old = readFileSync(file, 'utf8').trim();
  } catch {
    // none yet
  }
  const id = writeNewMachineId(file);
  process.stdout.write(`machine id: ${id}${old ? ` (was ${old})` : ''}\n`);
  process.stdout.write('a running runner keeps the old id until it restarts: hapi runner stop && hapi runner start\n');
}
