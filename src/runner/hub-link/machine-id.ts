/**
 * This machine's stable id for the hub: created once (randomUUID), kept 0600 in HAPI_HOME; and
 * the install fingerprint that tells this install apart from a copy of it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
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

/** Gives this install a new machine id (after a copied HAPI_HOME or a cloned machine); returns it. */
export function resetMachineId(file: string): string {
  ensurePrivateDir(dirname(file));
  const id = randomUUID();
  writeFileAtomic(file, `${id}\n`, 0o600);
  return id;
}

/** The OS's own id of this machine (systemd/dbus); '' where there is none (macOS, Windows). */
function osMachineId(): string {
  for (const file of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = readFileSync(file, 'utf8').trim();
      if (id) return id;
    } catch {
      // try the next one
    }
  }
  return '';
}

/**
 * What a copy of HAPI_HOME cannot carry: the OS machine id, the host name and the absolute
 * HAPI_HOME path, hashed (sent in the hello; the hub only compares it). The same install
 * restarted gives the same value; a copied HAPI_HOME elsewhere, or a cloned machine that got
 * its own OS machine id or host name, gives another.
 */
export function installFingerprint(home: string): string {
  return createHash('sha256').update(`${osMachineId()}\0${hostname()}\0${resolve(home)}`).digest('hex');
}
