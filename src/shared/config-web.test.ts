// The web page's settings in config.ts: Telegram sign-in, origins, framing, the page's root.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './errors.js';
import { frameAncestors, parseTelegramUsers, telegramConfig, trustedProxies, webConfig, webOrigins } from './config-web.js';

const BOT_TOKEN = '123456789:AAE_test-bot-token-for-hapi-unit-tests';
const DAY_MS = 24 * 60 * 60 * 1000;

describe('parseTelegramUsers', () => {
  it('parses comma-, space- and newline-separated entries with comments', () => {
    const users = parseTelegramUsers('12345:default, 678:teamb\n# ops\n9:team_c  # on call\n', 'test');
    expect([...users]).toEqual([
      [12345, 'default'],
      [678, 'teamb'],
      [9, 'team_c'],
    ]);
    expect(parseTelegramUsers('', 'test').size).toBe(0);
  });

  it('names the source and the bad entry', () => {
    expect(() => parseTelegramUsers('12345', 'HAPI_TELEGRAM_USERS')).toThrow(/HAPI_TELEGRAM_USERS.*"12345"/);
    expect(() => parseTelegramUsers('abc:default', 'X')).toThrow(ConfigError);
    expect(() => parseTelegramUsers('1:Bad Namespace', 'X')).toThrow(ConfigError);
    expect(() => parseTelegramUsers('1:UPPER', 'X')).toThrow(/bad namespace/);
    expect(() => parseTelegramUsers('1:a,1:b', 'X')).toThrow(/two namespaces/);
    expect(parseTelegramUsers('1:a,1:a', 'X').get(1)).toBe('a');
  });
});

describe('telegramConfig', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('is off without a bot token, and refuses a user mapping without one', () => {
    expect(telegramConfig({})).toBeUndefined();
    expect(() => telegramConfig({ HAPI_TELEGRAM_USERS: '1:default' })).toThrow(/HAPI_TELEGRAM_BOT_TOKEN/);
  });

  it('reads the token, the inline mapping, a mapping file and the maximum age', () => {
    dir = mkdtempSync(join(tmpdir(), 'hapi-tg-'));
    const file = join(dir, 'telegram-users');
    writeFileSync(file, '# id:namespace\n678:teamb\n');
    const config = telegramConfig({
      HAPI_TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      HAPI_TELEGRAM_USERS: '12345:default',
      HAPI_TELEGRAM_USERS_FILE: file,
      HAPI_TELEGRAM_AUTH_MAX_AGE_MS: '3600000',
    });
    expect(config).toBeDefined();
    expect(config!.botToken).toBe(BOT_TOKEN);
    expect(config!.maxAgeMs).toBe(3_600_000);
    expect([...config!.users]).toEqual([
      [12345, 'default'],
      [678, 'teamb'],
    ]);
    expect(telegramConfig({ HAPI_TELEGRAM_BOT_TOKEN: BOT_TOKEN })!.maxAgeMs).toBe(DAY_MS);
  });

  it('names what is wrong', () => {
    expect(() => telegramConfig({ HAPI_TELEGRAM_BOT_TOKEN: 'not-a-token' })).toThrow(/does not look like a bot token/);
    expect(() => telegramConfig({ HAPI_TELEGRAM_BOT_TOKEN: BOT_TOKEN, HAPI_TELEGRAM_AUTH_MAX_AGE_MS: 'soon' })).toThrow(
      /HAPI_TELEGRAM_AUTH_MAX_AGE_MS/,
    );
    expect(() => telegramConfig({ HAPI_TELEGRAM_BOT_TOKEN: BOT_TOKEN, HAPI_TELEGRAM_USERS_FILE: '/nonexistent/users' })).toThrow(
      /cannot read \/nonexistent\/users/,
    );
  });
});

describe('notification settings', () => {
  it('reads the Bot API URL, the public URL and the coalescing window, with defaults', () => {
    const t = telegramConfig({ HAPI_TELEGRAM_BOT_TOKEN: BOT_TOKEN })!;
    expect(t.apiUrl).toBe('https://api.telegram.org');
    expect(t.notify).toBe(true);
    expect(telegramConfig({ HAPI_TELEGRAM_BOT_TOKEN: BOT_TOKEN, HAPI_TELEGRAM_API_URL: 'http://127.0.0.1:8081/', HAPI_TELEGRAM_NOTIFY: 'false' })).toMatchObject({
      apiUrl: 'http://127.0.0.1:8081',
      notify: false,
    });
    expect(webConfig({})).toMatchObject({ publicUrl: undefined, notifyCoalesceMs: 2000 });
    expect(webConfig({ HAPI_HUB_PUBLIC_URL: 'https://hapi.example.com/', HAPI_NOTIFY_COALESCE_MS: '0' })).toMatchObject({
      publicUrl: 'https://hapi.example.com',
      notifyCoalesceMs: 0,
    });
  });

  it('refuses what is not a plain http(s) URL', () => {
    expect(() => webConfig({ HAPI_HUB_PUBLIC_URL: 'hapi.example.com' })).toThrow(/HAPI_HUB_PUBLIC_URL/);
    expect(() => webConfig({ HAPI_HUB_PUBLIC_URL: 'https://hapi.example.com/?x=1' })).toThrow(/must be an origin/);
    // The page and its API live at the origin's root: a path prefix would break every link.
    expect(() => webConfig({ HAPI_HUB_PUBLIC_URL: 'https://hapi.example.com/team/' })).toThrow(/must be an origin/);
    expect(() => telegramConfig({ HAPI_TELEGRAM_BOT_TOKEN: BOT_TOKEN, HAPI_TELEGRAM_API_URL: 'ftp://x' })).toThrow(/HAPI_TELEGRAM_API_URL/);
    expect(() => webConfig({ HAPI_NOTIFY_COALESCE_MS: '-1' })).toThrow(/HAPI_NOTIFY_COALESCE_MS/);
  });
});

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

describe('webConfig', () => {
  it('gathers the web settings, framing by Telegram Web when Telegram sign-in is on', () => {
    expect(webConfig({})).toEqual({ telegram: undefined, allowedOrigins: [], frameAncestors: [], webRoot: undefined, trustedProxies: [], publicUrl: undefined, notifyCoalesceMs: 2000 });
    const config = webConfig({ HAPI_TELEGRAM_BOT_TOKEN: BOT_TOKEN, HAPI_WEB_ROOT: ' /srv/hapi-web ', HAPI_WEB_ORIGINS: 'https://hapi.example.com' });
    expect(config).toMatchObject({ allowedOrigins: ['https://hapi.example.com'], frameAncestors: ['https://web.telegram.org'], webRoot: '/srv/hapi-web' });
    expect(config.telegram?.botToken).toBe(BOT_TOKEN);
  });

  it('names the variable of a bad value', () => {
    expect(() => webConfig({ HAPI_WEB_ORIGINS: 'nope' })).toThrow(/HAPI_WEB_ORIGINS/);
    expect(() => webConfig({ HAPI_TELEGRAM_USERS: '1:a' })).toThrow(/HAPI_TELEGRAM_BOT_TOKEN/);
    expect(() => webConfig({ HAPI_WEB_TRUSTED_PROXIES: 'proxy.local' })).toThrow(/HAPI_WEB_TRUSTED_PROXIES/);
  });
});

describe('HAPI_WEB_TRUSTED_PROXIES', () => {
  it('takes addresses and CIDR ranges, IPv4 and IPv6, separated by commas or spaces', () => {
    expect(trustedProxies({})).toEqual([]);
    expect(trustedProxies({ HAPI_WEB_TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8 ::1 fd00::/8' })).toEqual(['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8']);
  });

  it('refuses names, bad prefixes and anything else, naming the variable', () => {
    for (const bad of ['localhost', '10.0.0.0/33', '::1/129', '10.0.0.0/x', '1.2.3.4/8/9', '*']) {
      expect(() => trustedProxies({ HAPI_WEB_TRUSTED_PROXIES: bad }), bad).toThrow(/^HAPI_WEB_TRUSTED_PROXIES: .* is not an IP address or CIDR range/);
    }
  });
});
