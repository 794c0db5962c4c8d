import { describe, expect, it } from 'vitest';
import { UnauthenticatedError } from '../../shared/errors.js';
import { signInitData, verifyInitData } from './telegram.js';

const BOT_TOKEN = '123456789:AAE_test-bot-token-for-hapi-unit-tests';
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const NOW_S = NOW / 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const USER = JSON.stringify({ id: 424242, first_name: 'Ada', username: 'ada', language_code: 'en' });

/**
 * Signs initData with WebCrypto, written from Telegram's documentation independently of the
 * code under test, so a mistake in the scheme cannot cancel itself out.
 */
async function signIndependently(fields: Array<[string, string]>, botToken: string): Promise<string> {
  const enc = new TextEncoder();
  const hmac = async (key: Uint8Array<ArrayBuffer>, msg: string) => {
    const k = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return new Uint8Array(await crypto.subtle.sign('HMAC', k, enc.encode(msg)));
  };
  const secret = await hmac(enc.encode('WebAppData'), botToken);
  const check = [...fields].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join('\n');
  const hash = Buffer.from(await hmac(secret, check)).toString('hex');
  // Telegram's own order is not sorted; the verifier must not depend on it.
  return new URLSearchParams([...fields.reverse(), ['hash', hash]]).toString();
}

const baseFields = (authDate = NOW_S - 60): Array<[string, string]> => [
  ['query_id', 'AAHdF6IQAAAAAN0XohDhrOrc'],
  ['user', USER],
  ['auth_date', String(authDate)],
  ['signature', 'bm9ydGhlcm4tc2lnbmF0dXJlLWZpZWxkLWlzLWNoZWNrZWQtdG9v'],
];

const verify = (initData: string, opts: { now?: number; maxAgeMs?: number; bot?: string } = {}) =>
  verifyInitData(initData, opts.bot ?? BOT_TOKEN, { maxAgeMs: opts.maxAgeMs ?? DAY_MS, now: opts.now ?? NOW });

describe('verifyInitData', () => {
  it('accepts initData signed by the documented scheme and returns the user', async () => {
    const initData = await signIndependently(baseFields(), BOT_TOKEN);
    const verified = verify(initData);
    expect(verified.user).toEqual({ id: 424242, firstName: 'Ada', lastName: undefined, username: 'ada' });
    expect(verified.authDate.getTime()).toBe((NOW_S - 60) * 1000);
  });

  it('signInitData produces what the documented scheme produces', async () => {
    const fields = Object.fromEntries(baseFields());
    const ours = new URLSearchParams(signInitData(fields, BOT_TOKEN)).get('hash');
    const theirs = new URLSearchParams(await signIndependently(baseFields(), BOT_TOKEN)).get('hash');
    expect(ours).toBe(theirs);
  });

  it('refuses a tampered field, a tampered hash, a wrong bot token and an unsigned string', async () => {
    const good = await signIndependently(baseFields(), BOT_TOKEN);
    const params = new URLSearchParams(good);

    const otherUser = new URLSearchParams(params);
    otherUser.set('user', JSON.stringify({ id: 1, first_name: 'Mallory' }));
    expect(() => verify(otherUser.toString())).toThrow(/bad signature/);

    const hash = params.get('hash')!;
    const flipped = new URLSearchParams(params);
    flipped.set('hash', (hash[0] === 'a' ? 'b' : 'a') + hash.slice(1));
    expect(() => verify(flipped.toString())).toThrow(/bad signature/);

    const added = new URLSearchParams(params);
    added.set('start_param', 'x');
    expect(() => verify(added.toString())).toThrow(/bad signature/);

    expect(() => verify(good, { bot: '987654321:AAE_another-bot-token-entirely' })).toThrow(/bad signature/);

    const unsigned = new URLSearchParams(params);
    unsigned.delete('hash');
    expect(() => verify(unsigned.toString())).toThrow(/not signed/);
    expect(() => verify('')).toThrow(UnauthenticatedError);
  });

  it('refuses duplicated fields even when one copy is correctly signed', async () => {
    const good = await signIndependently(baseFields(), BOT_TOKEN);
    expect(() => verify(`${good}&user=${encodeURIComponent(JSON.stringify({ id: 1 }))}`)).toThrow(/malformed/);
  });

  it('enforces the maximum age, and refuses data dated in the future', async () => {
    const authDate = NOW_S - 3600;
    const initData = await signIndependently(baseFields(authDate), BOT_TOKEN);
    expect(verify(initData, { maxAgeMs: 3600_000 }).user.id).toBe(424242);
    expect(() => verify(initData, { maxAgeMs: 3599_000 })).toThrow(/expired/);
    expect(() => verify(initData, { now: NOW + DAY_MS })).toThrow(/expired/);

    const future = await signIndependently(baseFields(NOW_S + 600), BOT_TOKEN);
    expect(() => verify(future)).toThrow(/future/);
  });

  it('refuses signed data without a usable user or auth_date', async () => {
    const noUser = await signIndependently([['auth_date', String(NOW_S)]], BOT_TOKEN);
    expect(() => verify(noUser)).toThrow(/no user/);
    const badUser = await signIndependently([['auth_date', String(NOW_S)], ['user', '{"id":"12"}']], BOT_TOKEN);
    expect(() => verify(badUser)).toThrow(/no user/);
    const noDate = await signIndependently([['user', USER]], BOT_TOKEN);
    expect(() => verify(noDate)).toThrow(/auth_date/);
  });
});
