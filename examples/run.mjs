// Runs an example from this directory with one command:
//
//   npm run example -- list-and-spawn [directory on the machine]
//
// It compiles examples/<name>.ts with esbuild (a dev dependency; packages stay in node_modules)
// to dist/examples/<name>.mjs and runs it with node. The hub and the token come from
// HAPI_API_URL and CLI_API_TOKEN, or else from what `hapi up` or `hapi auth login` saved for
// this HAPI_HOME ($HAPI_HOME/auth.json, default ~/.hapi), so with `hapi up` running in another
// terminal the command above needs nothing else.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const [name, ...args] = process.argv.slice(2);
const available = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run example -- <name> [args...]\nexamples: ${available.join(', ')}`);
  process.exit(2);
}

const env = { ...process.env };
if (!env.HAPI_API_URL || !env.CLI_API_TOKEN) {
  const home = env.HAPI_HOME?.trim() ? env.HAPI_HOME.trim().replace(/^~(?=$|\/)/, homedir()) : join(homedir(), '.hapi');
  const authFile = join(home, 'auth.json');
  if (existsSync(authFile)) {
    const saved = JSON.parse(readFileSync(authFile, 'utf8'));
    env.HAPI_API_URL ||= saved.hubUrl;
    env.CLI_API_TOKEN ||= saved.token;
  } else if (!env.CLI_API_TOKEN) {
    console.error(`no hub token: run \`hapi up\` (or \`hapi auth login\`) first, or set HAPI_API_URL and CLI_API_TOKEN (looked in ${authFile})`);
    process.exit(2);
  }
}

const outfile = join(root, 'dist', 'examples', `${name}.mjs`);
await build({
  entryPoints: [join(root, 'examples', `${name}.ts`)],
  outfile,
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
});
const child = spawn(process.execPath, [outfile, ...args], { stdio: 'inherit', env });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
