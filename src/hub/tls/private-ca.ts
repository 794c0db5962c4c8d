/**
 * The hub's private certificate authority, for TLS on a LAN without a public name: a CA made
 * once (`$HAPI_HOME/tls/ca.pem`, its key 0600), which a phone or another machine trusts once,
 * and a server certificate it signs for this machine's names and addresses (localhost, the host
 * name, `<host name>.local`, loopback, every LAN address, and the public URL's host). The server
 * certificate is made again (by the same CA, so nothing needs trusting again) when an address
 * was added or it is within 30 days of its end.
 *
 * Node 20 can read certificates (X509Certificate) but not make them, so the `openssl` binary
 * makes them; without it, this says so and how to bring your own (HAPI_HUB_TLS_CERT/KEY).
 */
import { execFile } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { ensurePrivateDir } from '../../shared/atomic-file.js';
import { FailedPreconditionError } from '../../shared/errors.js';
import type { HapiPaths } from '../../shared/paths.js';

/** Days a server certificate is valid: 825 is the most iOS and macOS accept from a private CA. */
export const SERVER_CERT_DAYS = 825;
const CA_DAYS = 3650;
const RENEW_BEFORE_MS = 30 * 86_400_000;

export interface PrivateCaFiles {
  dir: string;
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

/** The files in `paths.hubTlsDir` (src/shared/paths.ts derives the directory and ca.pem). */
export function privateCaFiles(paths: Pick<HapiPaths, 'hubTlsDir' | 'hubCaCert'>): PrivateCaFiles {
  const dir = paths.hubTlsDir;
  return { dir, caCert: paths.hubCaCert, caKey: join(dir, 'ca-key.pem'), cert: join(dir, 'hub.pem'), key: join(dir, 'hub-key.pem') };
}

/** The names and addresses the server certificate covers, as SAN entries (`DNS:x`, `IP:y`). */
export function wantedSans(extraHosts: string[] = []): string[] {
  const sans = new Set<string>(['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
  const name = hostname();
  if (name && /^[a-z0-9.-]+$/i.test(name)) {
    sans.add(`DNS:${name}`);
    if (!name.includes('.')) sans.add(`DNS:${name}.local`);
  }
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && !a.address.startsWith('fe80:')) sans.add(`IP:${a.address}`);
  }
  for (const h of extraHosts) {
    const host = h.replace(/^\[|\]$/g, '');
    if (!host || host === '0.0.0.0' || host === '::') continue;
    sans.add(isIP(host) ? `IP:${host}` : `DNS:${host}`);
  }
  return [...sans];
}

/** SAN entries of a certificate, in the form wantedSans uses. */
function sansOf(cert: X509Certificate): Set<string> {
  const out = new Set<string>();
  for (const part of (cert.subjectAltName ?? '').split(/,\s*/)) {
    const m = /^(DNS|IP Address):(.+)$/.exec(part);
    if (!m) continue;
    // Node prints IPv6 in full form: compare through a canonical form.
    out.add(m[1] === 'DNS' ? `DNS:${m[2]}` : `IP:${canonicalIp(m[2]!)}`);
  }
  return out;
}

function canonicalIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return ip;
  }
}

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { timeout: 30_000 }, (err, _out, stderr) => {
      if (!err) return resolve();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(
          new FailedPreconditionError(
            'making the hub a TLS certificate needs the `openssl` program (Node cannot make certificates); install it, or give your own with HAPI_HUB_TLS_CERT and HAPI_HUB_TLS_KEY',
          ),
        );
      }
      reject(new FailedPreconditionError(`openssl ${args[0]} failed: ${String(stderr).trim() || err.message}`));
    });
  });
}

/** True when the server certificate exists, was signed by the CA, covers every wanted SAN and is not about to end. */
function serverCertIsCurrent(files: PrivateCaFiles, sans: string[], now: number): boolean {
  if (!existsSync(files.cert) || !existsSync(files.key)) return false;
  try {
    const cert = new X509Certificate(readFileSync(files.cert));
    const ca = new X509Certificate(readFileSync(files.caCert));
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
    if (Date.parse(cert.validTo) - now < RENEW_BEFORE_MS) return false;
    const have = sansOf(cert);
    return sans.every((s) => have.has(s.startsWith('IP:') ? `IP:${canonicalIp(s.slice(3))}` : s));
  } catch {
    return false;
  }
}

export interface PrivateCa extends PrivateCaFiles {
  /** What this call made: nothing, a new server certificate, or a new CA too. */
  made: 'nothing' | 'server-cert' | 'ca';
  /** SHA-256 fingerprint of the CA (to compare with what a phone shows before trusting it). */
  caFingerprint: string;
  sans: string[];
}

/** Makes the CA once and a current server certificate; returns their files. */
export async function ensurePrivateCa(paths: Pick<HapiPaths, 'hubTlsDir' | 'hubCaCert'>, opts: { extraHosts?: string[]; now?: number } = {}): Promise<PrivateCa> {
  const files = privateCaFiles(paths);
  ensurePrivateDir(files.dir);
  const sans = wantedSans(opts.extraHosts);
  let made: PrivateCa['made'] = 'nothing';
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  if (!existsSync(files.caCert) || !existsSync(files.caKey)) {
    await openssl(['req', '-x509', ...ec, '-keyout', files.caKey, '-out', files.caCert, '-days', String(CA_DAYS),
      '-subj', `/O=hapi/CN=hapi private CA (${hostname().replace(/[/=+,]/g, '-')} ${randomBytes(3).toString('hex')})`,
      '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash']);
    made = 'ca';
  }
  if (made === 'ca' || !serverCertIsCurrent(files, sans, opts.now ?? Date.now())) {
    const csr = join(files.dir, 'hub.csr');
    const ext = join(files.dir, 'hub.ext');
    writeFileSync(ext, [
      `subjectAltName=${sans.join(',')}`,
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      'authorityKeyIdentifier=keyid',
      '',
    ].join('\n'));
    try {
      await openssl(['req', '-new', ...ec, '-keyout', files.key, '-out', csr, '-subj', '/O=hapi/CN=hapi hub']);
      await openssl(['x509', '-req', '-in', csr, '-CA', files.caCert, '-CAkey', files.caKey, '-set_serial', `0x${randomBytes(16).toString('hex')}`,
        '-days', String(SERVER_CERT_DAYS), '-sha256', '-extfile', ext, '-out', files.cert]);
    } finally {
      rmSync(csr, { force: true });
      rmSync(ext, { force: true });
    }
    if (made === 'nothing') made = 'server-cert';
  }
  // Keys are secrets; the certificates are not (a phone downloads ca.pem).
  chmodSync(files.caKey, 0o600);
  chmodSync(files.key, 0o600);
  const caFingerprint = new X509Certificate(readFileSync(files.caCert)).fingerprint256;
  return { ...files, made, caFingerprint, sans };
}
