/**
 * Enforces the module layout of issue 9: only src/contract/ imports gen/; runner/ and hub/
 * never import each other; the contract is a leaf (it imports only gen/, src/shared/ and
 * itself); contract/types.ts stays plain TypeScript; contract/runner.ts (in the CLI's hot
 * bundle) pulls in nothing of the hub's services.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Relative module specifiers of static imports, re-exports and dynamic imports. */
function importsOf(source: string): string[] {
  const found: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;
  for (let m = re.exec(source); m; m = re.exec(source)) found.push(m[1]!);
  return found;
}

const area = (path: string) => /^(gen|src\/[^/]+)\//.exec(path)?.[1];

/** Every rule broken by `files` (repo-relative path -> source), as "file -> import: rule". */
function layoutViolations(files: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [file, source] of files) {
    const from = area(file);
    for (const spec of importsOf(source)) {
      const target = relative(ROOT, resolve(ROOT, dirname(file), spec));
      const to = area(target);
      const bad = (rule: string) => out.push(`${file} -> ${spec}: ${rule}`);
      if (to === 'gen' && from !== 'src/contract') bad('only src/contract/ imports gen/');
      if ((from === 'src/runner' && to === 'src/hub') || (from === 'src/hub' && to === 'src/runner')) bad('runner/ and hub/ never import each other');
      if (from === 'src/contract' && to !== 'gen' && to !== 'src/shared' && to !== 'src/contract') bad('the contract imports only gen/, src/shared/ and itself');
      if (file === 'src/contract/types.ts' && to === 'gen') bad('contract/types.ts is plain TypeScript');
      if (file === 'src/contract/runner.ts' && /^src\/contract\/(hub|machine-link)\.js$/.test(target)) bad('contract/runner.ts is in the CLI bundle: no hub services');
    }
  }
  return out;
}

function sourcesUnder(dir: string, files = new Map<string, string>()): Map<string, string> {
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) sourcesUnder(path, files);
    else if (/\.(ts|tsx|mts)$/.test(entry.name)) files.set(path, readFileSync(join(ROOT, path), 'utf8'));
  }
  return files;
}

describe('module layout', () => {
  it('src/ follows the layout rules', () => {
    const files = sourcesUnder('src');
    files.delete('src/contract/layout.test.ts'); // its examples below break the rules on purpose
    expect(files.size).toBeGreaterThan(50);
    expect(layoutViolations(files)).toEqual([]);
  });

  it('reports each kind of violation', () => {
    const files = new Map([
      ['src/hub/x.ts', "import { A } from '../../gen/hapi/hub/v1/hub.js';\nimport type { B } from '../runner/domain.js';"],
      ['src/runner/y.ts', "export { C } from '../hub/domain.js';\nconst d = await import('../hub/serve.js');"],
      ['src/contract/types.ts', "import { E } from '../../gen/hapi/common/v1/common.js';\nimport type { F } from '../hub/domain.js';"],
      ['src/contract/runner.ts', "import { G } from './machine-link.js';"],
      ['src/cli/ok.ts', "import { H } from '../contract/runner.js';\nimport { I } from '../runner/runner-client.js';"],
    ]);
    expect(layoutViolations(files)).toEqual([
      'src/hub/x.ts -> ../../gen/hapi/hub/v1/hub.js: only src/contract/ imports gen/',
      'src/hub/x.ts -> ../runner/domain.js: runner/ and hub/ never import each other',
      'src/runner/y.ts -> ../hub/domain.js: runner/ and hub/ never import each other',
      'src/runner/y.ts -> ../hub/serve.js: runner/ and hub/ never import each other',
      'src/contract/types.ts -> ../../gen/hapi/common/v1/common.js: contract/types.ts is plain TypeScript',
      'src/contract/types.ts -> ../hub/domain.js: the contract imports only gen/, src/shared/ and itself',
      'src/contract/runner.ts -> ./machine-link.js: contract/runner.ts is in the CLI bundle: no hub services',
    ]);
  });
});
