import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/errors.js';
import { webOrigins } from './index.js';

describe('HAPI_WEB_ORIGINS', () => {
  it('is empty by default and lists normalised origins', () => {
    expect(webOrigins({})).toEqual([]);
    expect(webOrigins({ HAPI_WEB_ORIGINS: 'https://Hapi.Example.com, http://10.0.0.5:3738,https://x.example:443' })).toEqual([
      'https://hapi.example.com',
      'http://10.0.0.5:3738',
      'https://x.example',
    ]);
  });

  it('refuses anything that is not an origin', () => {
    for (const bad of ['hapi.example.com', 'https://hapi.example.com/app', 'ftp://hapi.example.com', 'https://h.example?x=1']) {
      expect(() => webOrigins({ HAPI_WEB_ORIGINS: bad }), bad).toThrow(ConfigError);
    }
  });
});
