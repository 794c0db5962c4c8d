// A validator for the subset of JSON Schema (2020-12) that docs/json/ uses: type (one or a list),
// enum, properties, required, additionalProperties: false, items, anyOf, $ref to another file of
// the same directory, and format: date-time. Any other keyword is refused, so a schema cannot
// silently say more than what is checked.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './harness.js';

export const SCHEMA_DIR = join(REPO_ROOT, 'docs', 'json');

type Schema = Record<string, unknown>;

const KNOWN = new Set(['$schema', '$id', 'title', 'description', 'type', 'enum', 'properties', 'required', 'additionalProperties', 'items', 'anyOf', '$ref', 'format']);
const cache = new Map<string, Schema>();

export function loadSchema(file: string): Schema {
  let s = cache.get(file);
  if (!s) {
    s = JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')) as Schema;
    cache.set(file, s);
  }
  return s;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** The ways `value` breaks `schema` (a file name in docs/json/ or a schema), as `path: problem` lines; empty when it is valid. */
export function validate(schema: Schema | string, value: unknown, path = '$'): string[] {
  const s = typeof schema === 'string' ? loadSchema(schema) : schema;
  for (const k of Object.keys(s)) if (!KNOWN.has(k)) throw new Error(`schema keyword ${k} at ${path} is not supported by test/json-schema.ts`);
  if (typeof s.$ref === 'string') return validate(s.$ref, value, path);
  const errors: string[] = [];
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    const t = typeOf(value);
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) return [`${path}: ${JSON.stringify(value)} is not of type ${types.join(' or ')}`];
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => e === value)) errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(s.enum)}`);
  if (s.format === 'date-time' && typeof value === 'string' && !DATE_TIME.test(value)) errors.push(`${path}: ${value} is not an RFC 3339 date-time`);
  if (Array.isArray(s.anyOf)) {
    const each = (s.anyOf as Schema[]).map((sub) => validate(sub, value, path));
    if (!each.some((e) => e.length === 0)) errors.push(`${path}: matches none of anyOf (${each.map((e) => e.join('; ')).join(' | ')})`);
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const key of (s.required ?? []) as string[]) if (!(key in obj)) errors.push(`${path}: missing required field ${key}`);
    for (const [key, v] of Object.entries(obj)) {
      if (props[key]) errors.push(...validate(props[key], v, `${path}.${key}`));
      else if (s.additionalProperties === false) errors.push(`${path}: field ${key} is not in the schema`);
    }
  }
  if (Array.isArray(value) && s.items) value.forEach((v, i) => errors.push(...validate(s.items as Schema, v, `${path}[${i}]`)));
  return errors;
}
