/**
 * A sorted route table with methods. Patterns are paths whose segments are literal, `:name`
 * (one segment, handed to the handler decoded) or a final `*` (any rest, also none: a mount point
 * for another handler, e.g. the REST view under the web page or, later, a WebSocket upgrade).
 *
 * Patterns are kept most specific first (per segment: literal, then `:param`, then `*`), and the
 * most specific pattern that matches a path decides: its route for the method, or 405 with an
 * Allow header naming its methods. A path no pattern matches is 404. The table only maps
 * (method, path) to a handler of any type, so an upgrade handler can use the same table.
 */
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import { methodNotAllowed } from './errors.js';
import type { RouteDoc } from './route-doc.js';

export type { RouteDoc } from './route-doc.js';

/** `*` as a method: any method. */
export type RouteMethod = string;

export interface Route<H> {
  method: RouteMethod;
  /** e.g. `/api/v1/machines/:machineId/sessions`, `/api/*`. */
  path: string;
  handler: H;
  /** What the route does, for the OpenAPI document (route-doc.ts); mounts and catch-alls have none. */
  doc?: RouteDoc;
}

export interface RouteMatch<H> {
  handler: H;
  /** `:name` segments (decoded); `*` holds the rest of the path after a mount point. */
  params: Record<string, string>;
}

export interface RouteTable<H> {
  /** The route for a request, or throws 404 (NotFoundError) / 405 (HttpError with Allow) / 400 (malformed path). */
  lookup(method: string | undefined, pathname: string): RouteMatch<H>;
  /** The patterns in match order, each with its methods (for docs and tests). */
  patterns(): Array<{ path: string; methods: string[] }>;
  /** Every route as declared, with its doc (the OpenAPI document is built from these). */
  routes(): ReadonlyArray<Omit<Route<H>, 'handler'>>;
}

interface Pattern<H> {
  path: string;
  segments: string[];
  byMethod: Map<string, H>;
}

/** 0 literal, 1 param, 2 wildcard: lower sorts first. */
function rank(segment: string): number {
  return segment === '*' ? 2 : segment.startsWith(':') ? 1 : 0;
}

function compare(a: string[], b: string[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const [x, y] = [a[i], b[i]];
    // Patterns of different lengths never match the same path, except a mount (`*`), which
    // comes after its exact prefix: shorter first keeps that and reads naturally.
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const d = rank(x) - rank(y);
    if (d !== 0) return d;
    if (x !== y && rank(x) === 0) return x < y ? -1 : 1;
  }
  return 0;
}

function splitPath(pathname: string): string[] {
  return pathname.split('/').filter(Boolean);
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new InvalidArgumentError('malformed path');
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const seg = pattern[i]!;
    if (seg === '*') {
      params['*'] = parts.slice(i).join('/');
      return params;
    }
    const part = parts[i];
    if (part === undefined) return undefined;
    if (seg.startsWith(':')) params[seg.slice(1)] = part;
    else if (seg !== part) return undefined;
  }
  return parts.length === pattern.length ? params : undefined;
}

/** Builds the table; a pattern with two routes for one method is a programming error. */
export function createRouteTable<H>(routes: ReadonlyArray<Route<H>>): RouteTable<H> {
  const byPath = new Map<string, Pattern<H>>();
  for (const r of routes) {
    const segments = splitPath(r.path);
    if (segments.slice(0, -1).includes('*')) throw new Error(`route ${r.path}: * must be the last segment`);
    const key = segments.map((s) => (s.startsWith(':') ? ':' : s)).join('/');
    let p = byPath.get(key);
    if (!p) byPath.set(key, (p = { path: r.path, segments, byMethod: new Map() }));
    const method = r.method.toUpperCase();
    if (p.byMethod.has(method)) throw new Error(`route ${method} ${r.path} is declared twice`);
    p.byMethod.set(method, r.handler);
  }
  const sorted = [...byPath.values()].sort((a, b) => compare(a.segments, b.segments));

  return {
    lookup(method, pathname) {
      const parts = splitPath(pathname).map(decode);
      const m = (method ?? 'GET').toUpperCase();
      for (const p of sorted) {
        const params = matchSegments(p.segments, parts);
        if (!params) continue;
        const handler = p.byMethod.get(m) ?? p.byMethod.get('*');
        if (handler === undefined) throw methodNotAllowed(m, pathname, [...p.byMethod.keys()].sort());
        return { handler, params };
      }
      throw new NotFoundError(`no route for ${m} ${pathname}`);
    },
    patterns() {
      return sorted.map((p) => ({ path: p.path, methods: [...p.byMethod.keys()].sort() }));
    },
    routes() {
      return routes.map(({ method, path, doc }) => ({ method: method.toUpperCase(), path, doc }));
    },
  };
}
