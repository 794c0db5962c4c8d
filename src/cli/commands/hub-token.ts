/** `hapi hub token create|list|revoke` over TokenService with the owner token. */
import { hapiPaths } from '../../shared/paths.js';
import { resolveHubCredentials, resolveOwnerCredentials, withHub } from '../../shared/hub-client.js';
import { readFileSync } from 'node:fs';
import { errnoCode, HapiError, NotFoundError } from '../../shared/errors.js';
import { tokenScopeFromProto, tokenScopeToProto } from '../../contract/hub.js';
import { createdTokenJson, printJson, tokenJson } from '../json-output.js';

function ownerCreds() {
  const paths = hapiPaths();
  const creds = resolveOwnerCredentials(paths);
  if (!creds.token) {
    throw new HapiError('Unauthenticated', `no owner token: start the hub once (it writes ${paths.hubOwnerTokenFile}) or set CLI_API_TOKEN`);
  }
  return creds;
}

export async function create(opts: { namespace: string; label: string; readOnly?: boolean; json?: boolean }): Promise<void> {
  const scope = tokenScopeToProto(opts.readOnly ? 'read-only' : 'full');
  const r = await withHub(ownerCreds(), (c) =>
    c.tokens.createToken({ namespace: opts.namespace, label: opts.label, scope }, { signal: AbortSignal.timeout(10_000) }),
  );
  const made = tokenScopeFromProto(r.scope);
  if (opts.json) {
    return printJson(createdTokenJson({ tokenId: r.tokenId, namespace: r.namespace, label: opts.label, scope: made, token: r.token }));
  }
  process.stdout.write(`${made === 'read-only' ? 'read-only ' : ''}token ${r.tokenId} for namespace ${r.namespace} (shown once):\n${r.token}\n`);
}

export async function list(opts: { json?: boolean }): Promise<void> {
  const r = await withHub(ownerCreds(), (c) => c.tokens.listTokens({}, { signal: AbortSignal.timeout(10_000) }));
  if (opts.json) {
    return printJson({ tokens: r.tokens.map((t) => tokenJson({ ...t, scope: tokenScopeFromProto(t.scope) })) });
  }
  const rows = r.tokens.map((t) => [t.tokenId, t.namespace, t.owner ? 'owner' : '', tokenScopeFromProto(t.scope), t.createdAt?.toISOString() ?? '', t.label]);
  process.stdout.write(table(['ID', 'NAMESPACE', 'OWNER', 'SCOPE', 'CREATED', 'LABEL'], rows));
}

export async function revoke(id: string): Promise<void> {
  await withHub(ownerCreds(), (c) => c.tokens.revokeToken({ tokenId: id }, { signal: AbortSignal.timeout(10_000) }));
  process.stdout.write(`revoked ${id}\n`);
}

/** `hapi hub token owner`: the owner token the local hub saved when it made it. */
export async function owner(opts: { json?: boolean }): Promise<void> {
  const file = hapiPaths().hubOwnerTokenFile;
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    throw new NotFoundError(
      `no owner token in ${file}: the hub makes it on its first start (\`hapi hub\` or \`hapi up\` with this HAPI_HOME); ` +
        'if the file was deleted, the hub keeps only its hash: sign in with the one-time link the hub prints at start',
    );
  }
  if (opts.json) return printJson({ token, file });
  process.stdout.write(`${token}\n`);
}

/** `hapi hub token sign-in-link`: a fresh one-time link for the web page, for this CLI's own token. */
export async function signInLink(opts: { json?: boolean }): Promise<void> {
  const creds = resolveHubCredentials(hapiPaths());
  const r = await withHub(creds, (c) => c.tokens.createSignInLink({}, { signal: AbortSignal.timeout(10_000) }));
  const expiresAt = r.expiresAt?.toISOString() ?? null;
  if (opts.json) return printJson({ url: r.url, expiresAt });
  process.stdout.write(`${r.url}\n`);
  process.stderr.write(`one-time link: works once, until ${expiresAt ?? 'it expires'}; it signs in with the token from ${creds.tokenSource}\n`);
}

/** Left-aligned columns, two spaces apart. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
