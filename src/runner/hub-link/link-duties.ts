/**
 * What a runner's hub link does on its own while a stream is connected: alive messages at the
 * hub's cadence (each also a look for state changes made outside the link, such as spawns over
 * local control), the agents this machine can run (looked at again now and then, published when
 * they changed), and the live terminals' activity (reported at once after the welcome, then
 * polled). Started at each welcome, stopped when the stream ends.
 */
import type { Logger } from 'pino';
import { sessionActivityMessage, type ConnectRequest } from '../../contract/machine-link.js';
import type { SessionActivityInfo } from '../../contract/types.js';
import { createActivityReporter } from './activity-reporter.js';
import type { StatePublisher } from './state-publisher.js';

export interface LinkDutiesOptions {
  publisher: StatePublisher;
  /** Sends on the current stream (nothing while there is none). */
  send(msg: ConnectRequest): void;
  /** True while the link is connected and not closing: activity reports go out only then. */
  canSend(): boolean;
  log: Logger;
  /** The agents this machine can run now (HubLinkOptions.agents). */
  agents?: () => string[];
  /** How often the agents are looked at while connected (default 60 s). */
  agentsRefreshMs?: number;
  /** The live terminals' activity (HubLinkOptions.sessionActivity). */
  sessionActivity?: (fresh: boolean, only?: string[]) => Promise<SessionActivityInfo[]>;
  sessionActivityMs: number;
}

export interface LinkDuties {
  /** Looks again at the agents and publishes them if they changed (also before every hello). */
  refreshAgents(): void;
  /** Reports the terminals' activity now (`fresh`: all of it; `only`: these sessions). */
  reportActivity(fresh: boolean, only?: string[]): void;
  /** Starts the timers after a welcome; alive every `aliveEveryMs`. */
  start(aliveEveryMs: number): void;
  /** Stops them (the stream ended). */
  stop(): void;
}

export function createLinkDuties(o: LinkDutiesOptions): LinkDuties {
  const activity = o.sessionActivity
    ? createActivityReporter({ source: o.sessionActivity, send: (entries) => o.send(sessionActivityMessage(entries)), canSend: o.canSend, log: o.log })
    : undefined;
  let timers: NodeJS.Timeout[] = [];

  function refreshAgents(): void {
    if (!o.agents) return;
    try {
      o.publisher.setMetadata({ ...o.publisher.metadata(), agents: o.agents() });
    } catch (err) {
      // A settings.json being edited, say: keep publishing what was found last.
      o.log.warn({ err }, 'cannot list the available agents; the hub keeps the previous list');
    }
  }
  const reportActivity = (fresh: boolean, only?: string[]) => void activity?.report(fresh, only);
  const every = (ms: number, run: () => void) => {
    const timer = setInterval(run, ms);
    timer.unref();
    timers.push(timer);
  };

  return {
    refreshAgents,
    reportActivity,
    start(aliveEveryMs) {
      every(aliveEveryMs, () => {
        o.send({ message: { $case: 'alive', value: { time: new Date() } } });
        o.publisher.publishIfChanged();
      });
      if (o.agents) every(o.agentsRefreshMs ?? 60_000, refreshAgents);
      if (activity) {
        reportActivity(true);
        every(o.sessionActivityMs, () => reportActivity(false));
      }
    },
    stop() {
      for (const timer of timers) clearInterval(timer);
      timers = [];
    },
  };
}
