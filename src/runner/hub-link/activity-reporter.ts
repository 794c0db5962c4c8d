/**
 * Reports what the runner's live terminals showed lately (last output time, last screen line,
 * the agent's activity) on the hub link, for the page's session list. One look at a time: a
 * report asked for while one is running is folded into a single follow-up, and neither a `fresh`
 * one (everything, after a new link) nor one for sessions that said their activity changed
 * (`only`: an approval request must not wait for the next periodic look) is lost that way.
 */
import type { SessionActivityInfo } from '../../contract/types.js';
import type { Logger } from '../../shared/logger.js';

export interface ActivityReporterOptions {
  /** What changed since the last look (everything when `fresh`; only these sessions when `only`). */
  source: (fresh: boolean, only?: string[]) => Promise<SessionActivityInfo[]>;
  /** Sends the entries on the link. */
  send: (entries: SessionActivityInfo[]) => void;
  /** True while the link is connected and not closing. */
  canSend: () => boolean;
  log: Logger;
}

export interface ActivityReporter {
  /** A look at every session (`fresh`: report them all), or at the sessions in `only`. */
  report(fresh: boolean, only?: string[]): Promise<void>;
}

export function createActivityReporter(o: ActivityReporterOptions): ActivityReporter {
  let busy = false;
  let freshPending = false;
  let allPending = false;
  const idsPending = new Set<string>();
  async function report(fresh: boolean, only?: string[]): Promise<void> {
    if (busy) {
      if (fresh) freshPending = true;
      else if (only) for (const id of only) idsPending.add(id);
      else allPending = true;
      return;
    }
    busy = true;
    try {
      const entries = await o.source(fresh, fresh ? undefined : only);
      if (entries.length > 0 && o.canSend()) o.send(entries);
    } catch (err) {
      o.log.debug({ err }, "cannot look at the terminals' activity");
    } finally {
      busy = false;
    }
    if (freshPending || allPending) {
      const f = freshPending;
      freshPending = allPending = false;
      idsPending.clear();
      await report(f);
    } else if (idsPending.size > 0) {
      const ids = [...idsPending];
      idsPending.clear();
      await report(false, ids);
    }
  }
  return { report };
}
