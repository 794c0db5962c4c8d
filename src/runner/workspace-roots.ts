/**
 * Allowed workspace roots: `hapi runner start --workspace-root <dir>` (repeatable) plus
 * `workspaceRoots` in $HAPI_HOME/settings.json. Empty = unrestricted.
 */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { readJsonFile } from '../shared/atomic-file.js';

export function resolveWorkspaceRoots(fromCli: string[], settingsFile: string, log: Logger): string[] {
  const roots = [...fromCli];
  const settings = readJsonFile<{ workspaceRoots?: unknown }>(settingsFile);
  if (settings.ok && Array.isArray(settings.value.workspaceRoots)) {
    for (const r of settings.value.workspaceRoots) if (typeof r === 'string') roots.push(r);
  } else if (!settings.ok && settings.reason === 'corrupt') {
    log.warn({ settingsFile, error: settings.error }, 'settings file is not valid JSON; ignoring it');
  }
  const out = new Set<string>();
  for (const r of roots) {
    const abs = resolve(r);
    try {
      out.add(realpathSync(abs));
    } catch {
      log.warn({ root: abs }, 'workspace root does not exist; keeping it as given');
      out.add(abs);
    }
  }
  return [...out];
}
