import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkWorkspaceRoots, creationError, prepareDirectory, resolveDirectory } from './directory.js';

describe('directory handling', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = '';
  });

  it('resolves ~ and relative paths against the home directory', () => {
    expect(resolveDirectory('~', '/home/u')).toBe('/home/u');
    expect(resolveDirectory('~/a/../b', '/home/u')).toBe('/home/u/b');
    expect(resolveDirectory('proj', '/home/u')).toBe('/home/u/proj');
    expect(resolveDirectory('/abs/x/', '/home/u')).toBe('/abs/x');
    expect(() => resolveDirectory('  ', '/home/u')).toThrow('directory is required');
  });

  it('fences workspace roots through symlinks and `..`', () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'hapi-dir-')));
    const root = join(dir, 'root');
    mkdirSync(join(root, 'inside'), { recursive: true });
    mkdirSync(join(dir, 'out'));
    symlinkSync(join(dir, 'out'), join(root, 'esc'));
    symlinkSync(root, join(dir, 'root-link'));
    expect(() => checkWorkspaceRoots(join(root, 'inside', 'new', 'deeper'), [root])).not.toThrow();
    expect(() => checkWorkspaceRoots(root, [root])).not.toThrow();
    // A root given through a symlink still matches its real path.
    expect(() => checkWorkspaceRoots(join(root, 'inside'), [join(dir, 'root-link')])).not.toThrow();
    expect(() => checkWorkspaceRoots(join(root, 'esc', 'new'), [root])).toThrow(/outside the allowed workspace roots/);
    expect(() => checkWorkspaceRoots(`${root}-sibling`, [root])).toThrow(/outside/);
    expect(() => prepareDirectory({ directory: join(dir, 'elsewhere'), approveCreate: true, workspaceRoots: [root] })).toThrow(/outside/);
  });

  it('reports approval, creation, and files in the way', () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'hapi-dir-')));
    expect(prepareDirectory({ directory: join(dir, 'a', 'b'), approveCreate: false, workspaceRoots: [] })).toEqual({ kind: 'approval-required', directory: join(dir, 'a', 'b') });
    expect(prepareDirectory({ directory: join(dir, 'a', 'b'), approveCreate: true, workspaceRoots: [] })).toEqual({ kind: 'ready', directory: join(dir, 'a', 'b'), created: true });
    expect(prepareDirectory({ directory: join(dir, 'a', 'b'), approveCreate: false, workspaceRoots: [] })).toEqual({ kind: 'ready', directory: join(dir, 'a', 'b'), created: false });
    writeFileSync(join(dir, 'f'), '');
    expect(() => prepareDirectory({ directory: join(dir, 'f', 'x', 'y'), approveCreate: true, workspaceRoots: [] })).toThrow(`a file exists at ${join(dir, 'f')}`);
    symlinkSync(join(dir, 'missing-target'), join(dir, 'dangling'));
    expect(() => prepareDirectory({ directory: join(dir, 'dangling'), approveCreate: true, workspaceRoots: [] })).toThrow(/symbolic link to a missing target/);
  });

  it('maps creation errno codes to typed errors (EACCES is also tested for real as non-root in test/sessions.test.ts)', () => {
    const e = (code: string) => creationError(Object.assign(new Error(code), { code }), '/x/y');
    expect([e('EACCES').kind, e('EACCES').message]).toEqual(['PermissionDenied', 'permission denied creating /x/y']);
    expect([e('ENOSPC').kind, e('ENOSPC').message]).toEqual(['ResourceExhausted', 'disk full: cannot create /x/y']);
    expect([e('EROFS').kind, e('EROFS').message]).toEqual(['FailedPrecondition', 'read-only file system: cannot create /x/y']);
    expect(e('ENOTDIR').message).toMatch(/^a file exists at /);
    expect([e('EIO').kind, e('EIO').message]).toEqual(['Internal', 'cannot create /x/y: EIO']);
  });
});
