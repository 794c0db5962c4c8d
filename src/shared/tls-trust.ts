/**
 * Which certificate authorities a client trusts for a hub's TLS: the system's (Node's bundled
 * roots), plus NODE_EXTRA_CA_CERTS and GRPC_DEFAULT_SSL_ROOTS_FILE_PATH (config.ts), plus the
 * private CA of this HAPI_HOME's own hub (`$HAPI_HOME/tls/ca.pem`, made by `hapi up --host`), so
 * the CLI and the runner reach a hub whose certificate a private CA signed. grpc-js reads none of
 * Node's variables by itself: the hub client hands these to its channel credentials.
 */
import { existsSync, readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { extraCaFiles, type Env } from './config.js';
import { ConfigError } from './errors.js';
import { hapiPaths } from './paths.js';

/** The PEM bundle to trust, or undefined when there is nothing beyond the system's roots. */
export function hubTrustedCas(env: Env = process.env): Buffer | undefined {
  const extra: string[] = [];
  for (const file of extraCaFiles(env)) {
    try {
      extra.push(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`cannot read the CA certificates in ${file} (NODE_EXTRA_CA_CERTS or GRPC_DEFAULT_SSL_ROOTS_FILE_PATH): ${(err as Error).message}`);
    }
  }
  const local = hapiPaths(env).hubCaCert;
  if (existsSync(local)) extra.push(readFileSync(local, 'utf8'));
  if (extra.length === 0) return undefined;
  return Buffer.from([...rootCertificates, ...extra].join('\n'));
}
