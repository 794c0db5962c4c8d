// Bundles the CLI with esbuild, in two parts, because cold start matters (bench/runner.mjs):
//
// - dist/hapi.cjs: the `hapi` executable. Commander, the runner's client commands (start, stop,
//   status, list, stop-session, logs) and the session process, as ONE CommonJS file: no ESM
//   loader, no chunk files to resolve, and node builtins (node:http2 ...) required only by the
//   code that uses them. It must stay small: it may not contain grpc-js, SQLite or the servers
//   (checked below).
// - dist/lazy/*.mjs: what long-running or hub commands load on demand (the runner daemon, the
//   hub, `hapi up`, the hub client commands, a runner-spawned session's terminal), as ESM with
//   shared chunks (the daemon's in dist/lazy/runner/, the others' in dist/lazy/chunks/).
//   hapi.cjs reaches them with import('./lazy/<name>.mjs'); the plugin below rewrites those imports.
//
// The two parts hold separate copies of the shared modules; errors cross between them by brand
// (isHapiError), never by class identity. better-sqlite3 and node-pty stay external (native addons), and so
// does @grpc/proto-loader, which grpc-js requires only for its channelz and ORCA services (not served here).
import { build } from 'esbuild';
import { chmodSync, readFileSync, readdirSync, rmSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const dist = new URL('../dist/', import.meta.url);
// Everything but the web page (scripts/build-web.mjs builds that).
let previous = [];
try {
  previous = readdirSync(dist);
} catch {
  // no dist yet
}
for (const name of previous) if (name !== 'web') rmSync(new URL(name, dist), { recursive: true, force: true });

/** Modules that pull in grpc-js, SQLite or a server: entry points of the lazy part. */
const LAZY = {
  'runner-daemon': 'src/runner/daemon.ts',
  'hub-serve': 'src/hub/serve.ts',
  up: 'src/cli/commands/up.ts',
  'hub-remote': 'src/cli/commands/hub-remote.ts',
  auth: 'src/cli/commands/auth.ts',
  'hub-token': 'src/cli/commands/hub-token.ts',
  'live-session': 'src/session/live-session.ts',
  // hapi screen / send: the SessionService messages stay out of the hot bundle.
  'session-client': 'src/session/session-client.ts',
  // hapi in a terminal / hapi attach: the attach client (SessionService messages, the stream).
  attach: 'src/session/attach/index.ts',
  // hapi runner logs / hapi hub logs: pino-pretty for --pretty.
  logs: 'src/cli/commands/logs.ts',
  // hapi doctor: the hub client and the native modules it checks.
  doctor: 'src/cli/commands/doctor.ts',
  // hapi hook (run on every agent hook): SessionService messages and the node:http2 client only.
  hook: 'src/session/activity/hook-command.ts',
  // hapi approve: the hub's and the session's messages.
  approve: 'src/cli/commands/approve-run.ts',
};
const lazyByPath = new Map(Object.entries(LAZY).map(([name, path]) => [new URL(`../${path}`, import.meta.url).pathname, name]));

/** Packages loaded from node_modules at run time instead of bundled (all CommonJS). */
// pg is loaded only by a hub on PostgreSQL (src/hub/store/postgres), from node_modules like better-sqlite3.
const EXTERNAL = ['better-sqlite3', '@grpc/proto-loader', 'node-pty', 'pg'];

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  external: EXTERNAL,
  define: { __HAPI_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
  metafile: true,
  minifyWhitespace: true,
  minifySyntax: true,
};

/**
 * In the ESM part, an external package is loaded with require() (the banner's createRequire),
 * also where the source says `import`: Node's ESM wrapper for a CommonJS package parses it with
 * cjs-module-lexer first, which costs an idle hub ~1.3 MB of resident memory (bench/idle.mjs).
 */
const requireExternals = {
  name: 'hapi-require-externals',
  setup(b) {
    const filter = new RegExp(`^(${EXTERNAL.map((p) => p.replace(/[/.-]/g, '\\$&')).join('|')})$`);
    b.onResolve({ filter }, (args) => (args.kind === 'require-call' ? { path: args.path, external: true } : { path: args.path, namespace: 'require-external' }));
    b.onLoad({ filter: /.*/, namespace: 'require-external' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

/** In hapi.cjs, `await import('<a lazy module>')` becomes import('./lazy/<name>.mjs'). */
const lazyImports = {
  name: 'hapi-lazy-imports',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\/.*\.js$/ }, async (args) => {
      if (args.kind !== 'dynamic-import' && args.kind !== 'import-statement') return undefined;
      const resolved = await b.resolve(args.path.replace(/\.js$/, '.ts'), { resolveDir: args.resolveDir, kind: 'import-statement' });
      const name = lazyByPath.get(resolved.path);
      if (name === undefined) return undefined;
      if (args.kind !== 'dynamic-import') throw new Error(`${args.importer} imports ${args.path} statically; lazy modules must be imported with await import()`);
      return { path: `./lazy/${name}.mjs`, external: true };
    });
  },
};

const main = await build({
  ...common,
  entryPoints: { hapi: 'src/cli/main.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  plugins: [lazyImports],
});
const heavy = Object.keys(main.metafile.inputs).filter((p) => /node_modules\/(@grpc\/grpc-js|better-sqlite3|pino|pino-pretty|node-pty|@xterm|prom-client|tdigest|bintrees|pg|pg-[a-z-]+)\//.test(p) || /^src\/hub\//.test(p));
if (heavy.length > 0) throw new Error(`dist/hapi.cjs must stay small but contains ${heavy.slice(0, 5).join(', ')}`);
chmodSync(new URL('hapi.cjs', dist), 0o755);

const esmPart = {
  ...common,
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  format: 'esm',
  external: [],
  plugins: [requireExternals],
  banner: {
    js: "import { createRequire as __hapiCreateRequire } from 'node:module'; const require = __hapiCreateRequire(import.meta.url);",
  },
};
// The runner daemon is built apart, with chunks of its own (the daemon and the code it shares with
// its hub link; the hub link apart): an idle runner loads 2 modules instead of ~45. Each ES module
// resolution runs path.resolve() twice, and ~100 of them at start made V8 optimize path's
// normalizeString, which maps TurboFan's ~3.5 MB of machine code into an idle runner
// (bench/idle.mjs; test/idle-footprint.test.ts counts the modules).
// A runner-spawned session's terminal likewise (chunks in dist/lazy/session/): the half loaded
// before the session reports itself and the grpc-js/xterm half loaded after it.
const APART = { 'runner-daemon': 'runner', 'live-session': 'session' };
for (const [name, dir] of Object.entries(APART)) {
  await build({ ...esmPart, entryPoints: { [`lazy/${name}`]: LAZY[name] }, splitting: true, chunkNames: `lazy/${dir}/[name]-[hash]` });
}
const shared = Object.entries(LAZY).filter(([name]) => !(name in APART));
await build({
  ...esmPart,
  entryPoints: { ...Object.fromEntries(shared.map(([name, path]) => [`lazy/${name}`, path])), 'bench-support': 'src/bench-support.ts' },
  chunkNames: 'lazy/chunks/[name]-[hash]',
  splitting: true,
});
