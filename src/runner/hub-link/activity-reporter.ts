/**
 * Reports what the runner's live terminals showed lately (last output time, last screen line) on
 * the hub link, for the page's session list. One look at a time: a report asked for while one is
 * running is folded into a single follow-up, and a `fresh` one (everything, after a new link)
 * is never lost that way.
 */
import type { SessionActivityInfo } from '../../contract/types.js';
import type { Logger } from '../../shared/logger.js';

export interface ActivityReporterOptions {
  /** What changed since the last look (everything when `fresh`). */
  source: (fresh: boolean) => Promise<SessionActivityInfo[]>;
  /** Sends the entries on the link. */
  send: (entries: SessionActivityInfo[]) => void;
  /** True while the link is connected and not closing. */
  canSend: () => boolean;
  log: Logger;
}

export interface ActivityReporter {
  report(fresh: boolean): Promise<void>;
}

export function createActivityReporter(o: ActivityReporterOptions): ActivityReporter {
  let busy = false;
  let freshPending = false;
  async function report(fresh: boolean): Promise<void> {
    if (busy) {
      freshPending ||= fresh;
      return;
    }
    busy = true;
    try {
      const entries = await o.source(fresh);
      if (entries.length > 0 && o.canSend()) o.send(entries);
    } catch (err) {
      o.log.debug({ err }, "cannot look at the terminals' activity");
    } finally {
      busy = false;
    }
    if (freshPending) {
      freshPending = false;
      await report(true);
    }
  }
  return { report };
}
