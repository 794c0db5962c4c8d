// Builds the hub's web page (web/) into static files in dist/web with esbuild: the page's JS
// entry and CSS under assets/ with content hashes in their names (cached forever by the hub),
// and index.html pointing at them. The terminal (xterm) is a separate chunk the page imports
// only when a terminal is opened, so the session list loads as fast as before. Nothing is
// fetched from elsewhere at run time; the page uses only files served by the hub, which the
// Content-Security-Policy enforces (xterm's inline styles are rewritten to fit it: see
// xterm-csp-plugin.mjs).
import { build } from 'esbuild';
import { xtermCspPlugin } from './xterm-csp-plugin.mjs';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

const root = new URL('../', import.meta.url);
const out = new URL('dist/web/', root);
rmSync(out, { recursive: true, force: true });
mkdirSync(new URL('assets/', out), { recursive: true });

const result = await build({
  absWorkingDir: new URL('.', root).pathname,
  entryPoints: { app: 'web/src/main.tsx' },
  outdir: 'dist/web/assets',
  entryNames: '[name]-[hash]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome100', 'safari15', 'firefox100'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  sourcemap: 'linked',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [xtermCspPlugin(new URL('web/src/terminal/csp-style.ts', root).pathname)],
});

// The entry's own outputs (chunks are imported by it, never named in the page).
const entryOutputs = Object.entries(result.metafile.outputs).filter(([, o]) => o.entryPoint === 'web/src/main.tsx');
const pick = (ext) => {
  const file = entryOutputs.map(([f, o]) => (ext === '.css' ? o.cssBundle ?? f : f)).find((f) => f.endsWith(ext));
  if (!file) throw new Error(`build-web: no ${ext} output`);
  return `/assets/${basename(file)}`;
};
// Chunks the entry imports statically (preact, shared helpers) are preloaded with it, so a phone
// fetches them in parallel instead of one after the other; the terminal chunk is not among them.
const preloads = entryOutputs
  .flatMap(([, o]) => o.imports ?? [])
  .filter((i) => i.kind === 'import-statement' && !i.external)
  .map((i) => `    <link rel="modulepreload" href="/assets/${i.path.replace(/^dist\/web\/assets\//, '')}" />`);
const html = readFileSync(new URL('web/index.html', root), 'utf8')
  .replace('%APP_JS%', pick('.js'))
  .replace('%APP_CSS%', pick('.css'))
  .replace('    <!-- %PRELOADS% -->', preloads.join('\n'));
writeFileSync(new URL('index.html', out), html);
cpSync(new URL('web/public/', root), out, { recursive: true });
