/**
 * What one runner process has done since it started (GetStatusResponse.counters,
 * `hapi runner status --json`): plain numbers that only grow, counted where the work happens
 * (the service facade for spawns and stops, the hub link for its streams and relayed calls).
 */

export interface RunnerCountValues {
  spawns: number;
  spawnFailures: number;
  stops: number;
  hubReconnects: number;
  hubLinkFailures: number;
  relayedCalls: number;
  relayedCallFailures: number;
}

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
