// Builds the hub's web page (web/) into static files in dist/web with esbuild: one JS and one
// CSS bundle under assets/ with content hashes in their names (cached forever by the hub), and
// index.html pointing at them. Nothing is fetched at run time; the page uses only files served
// by the hub, which the Content-Security-Policy enforces.
import { build } from 'esbuild';
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
  bundle: true,
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
});

const outputs = Object.keys(result.metafile.outputs);
const pick = (ext) => {
  const file = outputs.find((f) => f.endsWith(ext));
  if (!file) throw new Error(`build-web: no ${ext} output`);
  return `/assets/${basename(file)}`;
};
const html = readFileSync(new URL('web/index.html', root), 'utf8')
  .replace('%APP_JS%', pick('.js'))
  .replace('%APP_CSS%', pick('.css'));
writeFileSync(new URL('index.html', out), html);
cpSync(new URL('web/public/', root), out, { recursive: true });
