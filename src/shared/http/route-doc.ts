/**
 * What a route tells its readers: the OpenAPI 3.1 description of one (method, path), declared
 * next to the route's handler in its route table (routes.ts) so the document cannot drift from
 * what is served. JSON Schema (2020-12, as OpenAPI 3.1 uses it) describes bodies.
 */

/** A JSON Schema object (OpenAPI 3.1 uses JSON Schema 2020-12 as it is). */
export type JsonSchema = Record<string, unknown>;

export interface RouteResponseDoc {
  description: string;
  /** The body's schema; none for a body that is not JSON (then `contentType` says what it is). */
  schema?: JsonSchema;
  /** Default `application/json`. */
  contentType?: string;
}

export interface RouteDoc {
  /** One line: what the route does. */
  summary: string;
  /** More when the line is not enough. */
  description?: string;
  /** Grouping in the document (e.g. `machines`, `operations`). */
  tag: string;
  /**
   * Who may call it: `bearer` (a hub token in `Authorization: Bearer`), `owner` (the owner token
   * only), `none` (no token).
   */
  auth: 'bearer' | 'owner' | 'none';
  /** Query parameters by name. */
  query?: Record<string, { description: string; schema: JsonSchema }>;
  /** Descriptions of the `:name` path segments, by name (every segment must be described). */
  params?: Record<string, string>;
  /** A JSON request body's schema (the routes that take one). */
  body?: JsonSchema;
  /** By HTTP status; error bodies are the shared one (src/shared/http/errors.ts) unless given. */
  responses: Record<number, RouteResponseDoc>;
}
