// Bundles the CLI into dist/hapi.mjs (plus lazily loaded chunks) with esbuild: a bundled CLI
// starts ~50 ms faster than tsc output. better-sqlite3 stays external (native addon).
import { build } from 'esbuild';
import { readFileSync, rmSync, chmodSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });

await build({
  entryPoints: { hapi: 'src/cli/main.ts', 'bench-support': 'src/bench-support.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  // Native addon; and the gRPC health/reflection packages, which load .proto files relative to
  // their own __dirname at run time (that breaks when bundled).
  external: ['better-sqlite3', 'grpc-health-check', '@grpc/reflection', '@grpc/proto-loader'],
  define: { __HAPI_VERSION__: JSON.stringify(pkg.version) },
  banner: {
    js: "import { createRequire as __hapiCreateRequire } from 'node:module'; const require = __hapiCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
chmodSync(new URL('../dist/hapi.mjs', import.meta.url), 0o755);
