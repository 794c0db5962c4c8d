/**
 * The one spawn path of the runner's SessionManager.
 */
import { InvalidArgumentError } from '../../shared/errors.js';
import { checkSessionId } from '../../contract/limits.js';
import type { SpawnSpec } from '../../contract/types.js';

/** Rejects a spawn request the runner cannot act on (InvalidArgumentError). */
export function validateSpec(spec: SpawnSpec): void {
  if (typeof spec.directory !== 'string' || spec.directory.trim() === '') throw new InvalidArgumentError('directory is required');
  if (spec.sessionId !== undefined && spec.sessionId !== '') checkSessionId(spec.sessionId);
  if (!Array.isArray(spec.agentArgs ?? []) || !(spec.agentArgs ?? []).every((a) => typeof a === 'string' && !a.includes('\0'))) {
    throw new InvalidArgumentError('agentArgs must be strings without NUL bytes');
  }
}
