import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/errors.js';
import { frameAncestors, webOrigins } from './index.js';

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

describe('HAPI_WEB_FRAME_ANCESTORS', () => {
  it('defaults to none, or to Telegram Web when Telegram sign-in is on', () => {
    expect(frameAncestors({}, false)).toEqual([]);
    expect(frameAncestors({}, true)).toEqual(['https://web.telegram.org']);
  });

  it('when set, replaces the default (empty: no framing at all) and is validated', () => {
    expect(frameAncestors({ HAPI_WEB_FRAME_ANCESTORS: 'http://localhost:8080' }, true)).toEqual(['http://localhost:8080']);
    expect(frameAncestors({ HAPI_WEB_FRAME_ANCESTORS: '' }, true)).toEqual([]);
    expect(() => frameAncestors({ HAPI_WEB_FRAME_ANCESTORS: '*' }, false)).toThrow(/HAPI_WEB_FRAME_ANCESTORS: "\*" is not an origin/);
  });
});
