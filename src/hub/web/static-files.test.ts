import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadStaticSite } from './static-files.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function site() {
  const root = mkdtempSync(join(tmpdir(), 'hapi-static-'));
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>hapi</title>');
  writeFileSync(join(root, 'assets', 'app-X1.js'), 'console.log(1)');
  const map = JSON.stringify({ version: 3, sources: ['app.ts'], mappings: 'AAAA'.repeat(1000) });
  writeFileSync(join(root, 'assets', 'app-X1.js.map'), map);
  const s = loadStaticSite(root);
  const server: Server = createServer((req, res) => {
    if (!s.serve(req, res, new URL(req.url!, 'http://x').pathname)) res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => server.close(), () => rmSync(root, { recursive: true, force: true }));
  return { root, map, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

describe('the static site', () => {
  it('serves the page from memory and source maps from disk, with the same ETag and caching rules', async () => {
    const t = await site();
    // Gone from disk after start: the page is served from memory all the same.
    unlinkSync(join(t.root, 'assets', 'app-X1.js'));
    const js = await fetch(`${t.url}/assets/app-X1.js`);
    expect(js.status).toBe(200);
    expect(await js.text()).toBe('console.log(1)');

    const map = await fetch(`${t.url}/assets/app-X1.js.map`);
    expect(map.status).toBe(200);
    expect(map.headers.get('content-type')).toBe('application/json');
    expect(map.headers.get('cache-control')).toContain('immutable');
    expect(Number(map.headers.get('content-length'))).toBe(Buffer.byteLength(t.map));
    expect(await map.text()).toBe(t.map);
    const etag = map.headers.get('etag')!;
    expect((await fetch(`${t.url}/assets/app-X1.js.map`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const head = await fetch(`${t.url}/assets/app-X1.js.map`, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(t.map)));

    // A map removed since the start is not found rather than an error.
    unlinkSync(join(t.root, 'assets', 'app-X1.js.map'));
    expect((await fetch(`${t.url}/assets/app-X1.js.map`)).status).toBe(404);
  });
});
