/**
 * Serves the built web page (dist/web, made by scripts/build-web.mjs) from memory. The page is
 * a few small files read once at start (source maps are read again when asked for); asset names
 * carry a content hash, so they are cached forever, while index.html is revalidated on every load.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

interface StaticFile {
  /** Held in memory; undefined: read from `path` on each request (source maps). */
  body?: Buffer;
  path: string;
  size: number;
  contentType: string;
  etag: string;
  cacheControl: string;
}

export interface StaticSite {
  /** Serves GET/HEAD of a known file; returns false when the path is not one of the page's files. */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): boolean;
  /** Whether the page was found at start (false: a message says how to build it). */
  readonly built: boolean;
  readonly root: string;
}

/**
 * Where the built page is when HAPI_WEB_ROOT (WebConfig.webRoot) is not set: dist/web found from
 * the running bundle (dist/lazy/*.mjs or dist/lazy/chunks/*.mjs), else the repository's dist/web
 * (unbundled tests).
 */
export function defaultWebRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', 'web'), join(here, '..', '..', 'web'), join(here, '..', '..', '..', 'dist', 'web')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0]!;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

export function loadStaticSite(root: string): StaticSite {
  const files = new Map<string, StaticFile>();
  const built = existsSync(join(root, 'index.html'));
  if (built) {
    for (const path of walk(root)) {
      const rel = relative(root, path).split(sep).join('/');
      const hashed = rel.startsWith('assets/');
      const common = { path, contentType: CONTENT_TYPES[extname(path)] ?? 'application/octet-stream', cacheControl: hashed ? 'public, max-age=31536000, immutable' : 'no-cache' };
      if (extname(path) === '.map') {
        // Source maps (most of the page's bytes, fetched only by a browser's developer tools)
        // stay on disk, not even read here: held in memory they were some 2 MB of every hub's
        // resident memory. Their ETag is their size and time.
        const st = statSync(path);
        files.set(`/${rel}`, { ...common, size: st.size, etag: `"${st.size.toString(36)}-${Math.floor(st.mtimeMs).toString(36)}"` });
        continue;
      }
      const body = readFileSync(path);
      files.set(`/${rel}`, { ...common, body, size: body.length, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
    }
    const index = files.get('/index.html')!;
    files.set('/', index);
    files.delete('/index.html');
  }

  return {
    built,
    root,
    serve(req, res, pathname) {
      const file = files.get(pathname);
      if (!file) return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
        return true;
      }
      const headers = { 'Content-Type': file.contentType, ETag: file.etag, 'Cache-Control': file.cacheControl };
      if (req.headers['if-none-match'] === file.etag) {
        res.writeHead(304, headers).end();
        return true;
      }
      if (req.method === 'HEAD' || file.body) {
        res.writeHead(200, { ...headers, 'Content-Length': String(file.size) });
        res.end(req.method === 'HEAD' ? undefined : file.body);
        return true;
      }
      // From disk: the file as it was at start (its name carries its hash); gone since, a 404.
      readFile(file.path).then(
        (body) => {
          res.writeHead(200, { ...headers, 'Content-Length': String(body.length) });
          res.end(body);
        },
        () => {
          res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
        },
      );
      return true;
    },
  };
}
