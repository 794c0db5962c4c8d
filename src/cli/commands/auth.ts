/** `hapi auth login|status|logout`: the hub URL and token this HAPI_HOME uses. */
import { rmSync } from 'node:fs';
import { hapiPaths } from '../../shared/paths.js';
import { InvalidArgumentError } from '../../shared/errors.js';
import { writeJsonAtomic } from '../../shared/atomic-file.js';
import { parseHubUrl } from '../../shared/config.js';
import { readAuthFile, resolveHubCredentials, withHub, type AuthFile } from '../../shared/hub-client.js';
import { tokenScopeFromProto } from '../../contract/hub.js';
import { printJson, tokenSourceWord } from '../json-output.js';
import type { TokenScope } from '../../contract/types.js';

/** How a person reads a token's role: `(owner)`, `(read-only)` or nothing. */
function role(owner: boolean, scope: TokenScope): string {
  return owner ? ' (owner)' : scope === 'read-only' ? ' (read-only)' : '';
}

export async function login(opts: { hub?: string; token?: string }): Promise<void> {
  const paths = hapiPaths();
  const resolved = resolveHubCredentials(paths);
  const url = opts.hub ?? resolved.url;
  parseHubUrl(url);
  const token = opts.token ?? process.env.CLI_API_TOKEN?.trim();
  if (!token) throw new InvalidArgumentError('give the token with --token <token> (or CLI_API_TOKEN)');
  const who = await withHub({ url, token, tokenSource: 'CLI_API_TOKEN' }, (c) => c.hub.whoAmI({}, { signal: AbortSignal.timeout(10_000) }));
  const file: AuthFile = { hubUrl: url, token };
  writeJsonAtomic(paths.authFile, file, 0o600);
  process.stdout.write(`logged in to ${url} as namespace ${who.namespace}${role(who.owner, tokenScopeFromProto(who.scope))}; saved to ${paths.authFile}\n`);
}

export async function status(opts: { json?: boolean }): Promise<void> {
  const paths = hapiPaths();
  const creds = resolveHubCredentials(paths);
  const saved = readAuthFile(paths);
  let accepted = false;
  let namespace: string | undefined;
  let owner = false;
  let scope: TokenScope | undefined;
  let error: string | undefined;
  if (creds.token) {
    try {
      const who = await withHub(creds, (c) => c.hub.whoAmI({}, { signal: AbortSignal.timeout(10_000) }));
      accepted = true;
      namespace = who.namespace;
      owner = who.owner;
      scope = tokenScopeFromProto(who.scope);
    } catch (err) {
      error = (err as Error).message;
    }
  } else {
    error = 'no token: run `hapi auth login --token <token>` or set CLI_API_TOKEN';
  }
  const result = { hubUrl: creds.url, tokenSource: tokenSourceWord(creds.tokenSource), authFile: saved ? paths.authFile : null, accepted, namespace: namespace ?? null, owner, scope: scope ?? null, error: error ?? null };
  if (opts.json) {
    printJson(result);
  } else {
    process.stdout.write(`hub:        ${creds.url}\n`);
    process.stdout.write(`token from: ${creds.tokenSource}\n`);
    process.stdout.write(accepted ? `namespace:  ${namespace}${role(owner, scope ?? 'full')}\ntoken:      accepted\n` : `token:      not accepted (${error})\n`);
  }
  if (!accepted) process.exitCode = 1;
}

export async function logout(): Promise<void> {
  const paths = hapiPaths();
  const had = readAuthFile(paths) !== undefined;
  rmSync(paths.authFile, { force: true });
  process.stdout.write(had ? `removed ${paths.authFile}\n` : 'not logged in\n');
}
