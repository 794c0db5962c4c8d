/**
 * The settings of a hub that is one of several replicas on one PostgreSQL database (README,
 * "Several hub replicas"): where it serves the peer service, the address the other replicas
 * dial, and the cluster secret they all share. Read with the hub's other settings (config.ts,
 * hubConfig); a bad value is a ConfigError naming the variable.
 */
import { ConfigError } from './errors.js';
import { envOptional, type Env } from './config.js';

/** The shortest cluster secret accepted: a guessable secret would open the peer port. */
export const MIN_CLUSTER_SECRET_LENGTH = 16;

export interface ClusterConfig {
  /** HAPI_HUB_PEER_ADDR: host:port the peer service listens on (port 0: any free port). */
  listen: { host: string; port: number };
  /** HAPI_HUB_PEER_ADVERTISE: host:port the other replicas dial; default: the listen address (its real port). */
  advertise?: string;
  /** HAPI_HUB_CLUSTER_SECRET. */
  secret: string;
}

/** host:port, [v6]:port; the port 0-65535. */
export function parseHostPort(name: string, raw: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(raw.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ConfigError(`${name} must be host:port (e.g. 10.0.0.5:3740), got ${JSON.stringify(raw)}`);
  return { host: (m[1] ?? m[2])!, port };
}

/**
 * The cluster settings, or undefined for a single hub. A peer address needs PostgreSQL (the
 * replicas share nothing else) and the cluster secret; the secret alone, or an advertised
 * address without a listen address, is a mistake said at start rather than a hub that quietly
 * runs alone.
 */
export function clusterConfig(env: Env, databaseUrl: string | undefined): ClusterConfig | undefined {
  const addr = envOptional(env, 'HAPI_HUB_PEER_ADDR');
  const advertise = envOptional(env, 'HAPI_HUB_PEER_ADVERTISE');
  const secret = envOptional(env, 'HAPI_HUB_CLUSTER_SECRET');
  if (addr === undefined) {
    if (advertise !== undefined) throw new ConfigError('HAPI_HUB_PEER_ADVERTISE needs HAPI_HUB_PEER_ADDR (where this replica listens for its peers)');
    if (secret !== undefined && databaseUrl === undefined) throw new ConfigError('HAPI_HUB_CLUSTER_SECRET is for hub replicas on PostgreSQL: set HAPI_HUB_DATABASE_URL and HAPI_HUB_PEER_ADDR too');
    return undefined;
  }
  if (databaseUrl === undefined) {
    throw new ConfigError('HAPI_HUB_PEER_ADDR needs HAPI_HUB_DATABASE_URL: several hub replicas share one PostgreSQL database (a hub on SQLite runs alone)');
  }
  if (secret === undefined) {
    throw new ConfigError('HAPI_HUB_CLUSTER_SECRET is required with HAPI_HUB_PEER_ADDR: the replicas authenticate each other with it (the same random value on every replica, e.g. `openssl rand -hex 32`)');
  }
  if (secret.length < MIN_CLUSTER_SECRET_LENGTH) throw new ConfigError(`HAPI_HUB_CLUSTER_SECRET must be at least ${MIN_CLUSTER_SECRET_LENGTH} characters`);
  const listen = parseHostPort('HAPI_HUB_PEER_ADDR', addr);
  if (advertise !== undefined) {
    const a = parseHostPort('HAPI_HUB_PEER_ADVERTISE', advertise);
    if (a.port === 0) throw new ConfigError('HAPI_HUB_PEER_ADVERTISE needs a real port, not 0');
  }
  return { listen, advertise, secret };
}
