/**
 * Builds an OpenAPI 3.1 document from route tables' own declarations (routes.ts, route-doc.ts):
 * every route that carries a doc becomes an operation; mount points (`*`) are left out. The
 * error body of every HTTP surface is the one of src/shared/http/errors.ts.
 */
import type { JsonSchema, RouteDoc } from './route-doc.js';

export interface DocumentedRoute {
  method: string;
  path: string;
  doc?: RouteDoc;
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

/** The shared error body (errors.ts HttpErrorBody). */
export const ERROR_BODY_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['success', 'error', 'code'],
  properties: {
    success: { const: false },
    error: { type: 'string', description: 'message for a person' },
    code: { type: 'string', description: 'the error kind, in the vocabulary of gRPC status codes' },
  },
  additionalProperties: true,
};

/** `/a/:id/b` -> `/a/{id}/b`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** Routes without a doc, other than mounts: what a test must find empty. */
export function undocumentedRoutes(routes: readonly DocumentedRoute[]): string[] {
  return routes.filter((r) => !r.doc && !r.path.endsWith('*')).map((r) => `${r.method} ${r.path}`);
}

function operation(r: DocumentedRoute & { doc: RouteDoc }): Record<string, unknown> {
  const { doc } = r;
  const names = [...r.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  const parameters = [
    ...names.map((name) => {
      const description = doc.params?.[name];
      if (!description) throw new Error(`route ${r.method} ${r.path}: path parameter ${name} is not described`);
      return { name, in: 'path', required: true, description, schema: { type: 'string' } };
    }),
    ...Object.entries(doc.query ?? {}).map(([name, q]) => ({ name, in: 'query', required: false, description: q.description, schema: q.schema })),
  ];
  const responses: Record<string, unknown> = {};
  for (const [status, resp] of Object.entries(doc.responses)) {
    const contentType = resp.contentType ?? 'application/json';
    const schema = resp.schema ?? (Number(status) >= 400 ? { $ref: '#/components/schemas/Error' } : undefined);
    responses[status] = { description: resp.description, ...(schema || resp.contentType ? { content: { [contentType]: schema ? { schema } : {} } } : {}) };
  }
  return {
    operationId: `${r.method.toLowerCase()}${openApiPath(r.path).replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    tags: [doc.tag],
    security: doc.auth === 'none' ? [] : [{ bearer: [] }],
    ...(parameters.length ? { parameters } : {}),
    ...(doc.body ? { requestBody: { required: true, content: { 'application/json': { schema: doc.body } } } } : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of the documented routes, paths and methods in a stable order. */
export function buildOpenApi(info: OpenApiInfo, routes: readonly DocumentedRoute[], schemas: Record<string, JsonSchema> = {}): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const documented = routes.filter((r): r is DocumentedRoute & { doc: RouteDoc } => r.doc !== undefined);
  for (const r of [...documented].sort((a, b) => (a.path === b.path ? a.method.localeCompare(b.method) : a.path.localeCompare(b.path)))) {
    const p = (paths[openApiPath(r.path)] ??= {});
    p[r.method.toLowerCase()] = operation(r);
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      schemas: { Error: ERROR_BODY_SCHEMA, ...schemas },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a hub token (`hapi hub token create`); some routes take only the owner token' } },
    },
  };
}
