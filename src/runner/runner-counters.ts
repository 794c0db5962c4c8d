/**
 * What one runner process has done since it started (GetStatusResponse.counters,
 * `hapi runner status --json`): plain numbers that only grow, counted where the work happens
 * (the service facade for spawns and stops, the hub link for its streams and relayed calls).
 */
import type { RunnerCountersInfo } from '../contract/types.js';

/** The contract's counters, less the failed log writes (the logger counts those). */
export type RunnerCountValues = Omit<RunnerCountersInfo, 'logWriteFailures'>;

export type RunnerCounterName = keyof RunnerCountValues;

export interface RunnerCounters {
  count(name: RunnerCounterName): void;
  snapshot(): RunnerCountValues;
}

export function createRunnerCounters(): RunnerCounters {
  const values: RunnerCountValues = { spawns: 0, spawnFailures: 0, stops: 0, hubReconnects: 0, hubLinkFailures: 0, relayedCalls: 0, relayedCallFailures: 0 };
  return {
    count(name) {
      values[name]++;
    },
    snapshot: () => ({ ...values }),
  };
}

/** Counts nothing (units used without a runner, e.g. in their tests). */
export const NO_COUNTERS: RunnerCounters = { count: () => undefined, snapshot: () => createRunnerCounters().snapshot() };
