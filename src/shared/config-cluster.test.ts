import { describe, expect, it } from 'vitest';
import { clusterConfig, parseHostPort } from './config-cluster.js';
import { hubConfig, hubLinkConfig, hubUrls } from './config.js';

const DB = 'postgres://h@127.0.0.1:5432/hapi';
const SECRET = '0123456789abcdef0123';

describe('cluster settings', () => {
  it('a single hub without a peer address; a replica with the address, the secret and PostgreSQL', () => {
    expect(clusterConfig({}, undefined)).toBeUndefined();
    expect(clusterConfig({}, DB)).toBeUndefined();
    expect(clusterConfig({ HAPI_HUB_PEER_ADDR: '0.0.0.0:3740', HAPI_HUB_CLUSTER_SECRET: SECRET }, DB)).toEqual({
      listen: { host: '0.0.0.0', port: 3740 },
      advertise: undefined,
      secret: SECRET,
    });
    expect(clusterConfig({ HAPI_HUB_PEER_ADDR: '[::]:0', HAPI_HUB_PEER_ADVERTISE: '10.0.0.5:3740', HAPI_HUB_CLUSTER_SECRET: SECRET }, DB)).toMatchObject({
      listen: { host: '::', port: 0 },
      advertise: '10.0.0.5:3740',
    });
    expect(hubConfig({ HAPI_HUB_DATABASE_URL: DB, HAPI_HUB_PEER_ADDR: '127.0.0.1:0', HAPI_HUB_CLUSTER_SECRET: SECRET }).cluster?.secret).toBe(SECRET);
  });

  it('says what is missing or wrong, naming the variable', () => {
    expect(() => clusterConfig({ HAPI_HUB_PEER_ADDR: '0.0.0.0:3740', HAPI_HUB_CLUSTER_SECRET: SECRET }, undefined)).toThrow(/HAPI_HUB_PEER_ADDR needs HAPI_HUB_DATABASE_URL/);
    expect(() => clusterConfig({ HAPI_HUB_PEER_ADDR: '0.0.0.0:3740' }, DB)).toThrow(/HAPI_HUB_CLUSTER_SECRET is required/);
    expect(() => clusterConfig({ HAPI_HUB_PEER_ADDR: '0.0.0.0:3740', HAPI_HUB_CLUSTER_SECRET: 'short' }, DB)).toThrow(/at least 16/);
    expect(() => clusterConfig({ HAPI_HUB_PEER_ADVERTISE: '10.0.0.5:3740' }, DB)).toThrow(/HAPI_HUB_PEER_ADVERTISE needs HAPI_HUB_PEER_ADDR/);
    expect(() => clusterConfig({ HAPI_HUB_CLUSTER_SECRET: SECRET }, undefined)).toThrow(/HAPI_HUB_CLUSTER_SECRET is for hub replicas/);
    expect(() => clusterConfig({ HAPI_HUB_PEER_ADDR: '0.0.0.0:3740', HAPI_HUB_PEER_ADVERTISE: '10.0.0.5:0', HAPI_HUB_CLUSTER_SECRET: SECRET }, DB)).toThrow(/real port/);
    for (const bad of ['3740', 'host:', 'host:99999', 'http://h:1']) expect(() => parseHostPort('HAPI_HUB_PEER_ADDR', bad)).toThrow(/HAPI_HUB_PEER_ADDR must be host:port/);
  });

  it('HAPI_API_URL lists several hubs for a runner', () => {
    expect(hubUrls('http://a:1, http://b:2,')).toEqual(['http://a:1', 'http://b:2']);
    expect(hubLinkConfig({ HAPI_API_URL: 'http://a:1,https://b:2' })).toMatchObject({ apiUrl: 'http://a:1', apiUrls: ['http://a:1', 'https://b:2'] });
    expect(() => hubUrls('http://a:1,ftp://b')).toThrow(/HAPI_API_URL must use http/);
    expect(() => hubUrls(' , ')).toThrow(/HAPI_API_URL is empty/);
  });
});
