/** This machine's stable id for the hub: created once (randomUUID), kept 0600 in HAPI_HOME. */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createFileExclusive, ensurePrivateDir, writeFileAtomic } from '../../shared/atomic-file.js';
import { errnoCode } from '../../shared/errors.js';

const VALID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function loadOrCreateMachineId(file: string): string {
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (VALID.test(id)) return id;
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  ensurePrivateDir(dirname(file));
  const id = randomUUID();
  // O_EXCL: when two processes race, the first one's id wins and the other re-reads it.
  if (createFileExclusive(file, `${id}\n`, 0o600)) return id;
  const existing = readFileSync(file, 'utf8').trim();
  if (VALID.test(existing)) return existing;
  writeFileAtomic(file, `${id}\n`, 0o600);
  return id;
}
