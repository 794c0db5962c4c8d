/**
 * The hub's Prometheus metrics (prom-client, in its own registry): what an operator watches.
 * Loaded only by the hub (a lazy module of the CLI; scripts/build.mjs keeps prom-client out of
 * dist/hapi.cjs). Gauges are read from the hub core when scraped, so nothing is counted twice;
 * relayed calls and store calls are observed as they finish (HubCoreOptions.onRelay,
 * instrumentStore).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the gauges read at scrape time (HubCore.stats()). */
export interface HubGaugeSample {
  /** Open MachineService.Connect streams. */
  connections: number;
  /** Runner-opened attach streams (MachineService.AttachStream). */
  attachStreams: number;
  machinesOnline: number;
  /** Viewers attached to sessions through the hub (gRPC and WebSocket). */
  viewers: number;
  /** Open watch feeds (WatchMachines/WatchSessions, REST event streams). */
  watchers: number;
  pendingRpcs: number;
  /** Admission of runner connects (src/hub/domain/connect-gate.ts). */
  connects?: { active: number; waiting: number; admitted: number; refused: number };
  /** The PostgreSQL pool (none on SQLite): connections open, idle, and callers waiting for one. */
  databasePool?: { total: number; idle: number; waiting: number };
}

export interface HubMetrics {
  /** A relayed call finished: `outcome` is `ok` or the error kind in snake case (`deadline_exceeded`). */
  observeRelay(method: string, outcome: string, seconds: number): void;
  /** A store call finished (`ok` or `error`). */
  observeStore(operation: string, outcome: 'ok' | 'error', seconds: number): void;
  /** Where the gauges read from. */
  sampleFrom(sample: () => HubGaugeSample): void;
  readonly contentType: string;
  /** The exposition text. */
  render(): Promise<string>;
}

/** Latency buckets of relayed calls (s): a status round trip is milliseconds; a spawn waits for its session. */
const RELAY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Store calls are local SQLite statements (or a database round trip). */
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1];

export function createHubMetrics(): HubMetrics {
  const registers = [new Registry()];
  const [register] = registers as [Registry];
  collectDefaultMetrics({ register });
  let sample: () => HubGaugeSample = () => ({ connections: 0, attachStreams: 0, machinesOnline: 0, viewers: 0, watchers: 0, pendingRpcs: 0 });

  const streams = new Gauge({
    name: 'hapi_hub_runner_streams',
    help: 'Open streams from runners, by kind (connect: a machine\'s link; attach: a terminal opened through it)',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      const s = sample();
      this.set({ kind: 'connect' }, s.connections);
      this.set({ kind: 'attach' }, s.attachStreams);
    },
  });
  const gauge = (name: string, help: string, read: (s: HubGaugeSample) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(sample()));
      },
    });
  gauge('hapi_hub_machines_online', 'Machines whose runner is connected', (s) => s.machinesOnline);
  gauge('hapi_hub_attach_viewers', 'Viewers attached to session terminals through the hub', (s) => s.viewers);
  gauge('hapi_hub_watchers', 'Open watch feeds (gRPC watches and REST event streams)', (s) => s.watchers);
  gauge('hapi_hub_relayed_calls_pending', 'Relayed calls waiting for their runner\'s answer', (s) => s.pendingRpcs);
  new Gauge({
    name: 'hapi_hub_runner_connects',
    help: 'Runner connects in their database phase (active) and waiting for a turn (waiting): admission control',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const c = sample().connects;
      this.set({ state: 'active' }, c?.active ?? 0);
      this.set({ state: 'waiting' }, c?.waiting ?? 0);
    },
  });
  new Counter({
    name: 'hapi_hub_runner_connects_total',
    help: 'Runner connects admitted to their database phase, and refused with a retry hint (queue full or waited too long)',
    labelNames: ['outcome'] as const,
    registers,
    collect() {
      // Read from the gate when scraped: the gate counts, this only reports.
      const c = sample().connects;
      this.reset();
      this.inc({ outcome: 'admitted' }, c?.admitted ?? 0);
      this.inc({ outcome: 'refused' }, c?.refused ?? 0);
    },
  });
  new Gauge({
    name: 'hapi_hub_database_pool_connections',
    help: 'PostgreSQL pool: connections open (total), idle, and calls waiting for one (waiting); absent on SQLite',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const p = sample().databasePool;
      if (!p) return;
      this.set({ state: 'total' }, p.total);
      this.set({ state: 'idle' }, p.idle);
      this.set({ state: 'waiting' }, p.waiting);
    },
  });
  const relayed = new Counter({
    name: 'hapi_hub_relayed_calls_total',
    help: 'Calls relayed to runners, by method and outcome (ok or the error kind)',
    labelNames: ['method', 'outcome'] as const,
    registers,
  });
  const relayLatency = new Histogram({
    name: 'hapi_hub_relayed_call_duration_seconds',
    help: 'Time from relaying a call to its answer (or failure), by method and outcome',
    labelNames: ['method', 'outcome'] as const,
    buckets: RELAY_BUCKETS,
    registers,
  });
  const storeLatency = new Histogram({
    name: 'hapi_hub_store_call_duration_seconds',
    help: 'Duration of hub store calls, by operation and outcome',
    labelNames: ['operation', 'outcome'] as const,
    buckets: STORE_BUCKETS,
    registers,
  });
  void streams;

  return {
    observeRelay(method, outcome, seconds) {
      relayed.inc({ method, outcome });
      relayLatency.observe({ method, outcome }, seconds);
    },
    observeStore(operation, outcome, seconds) {
      storeLatency.observe({ operation, outcome }, seconds);
    },
    sampleFrom(s) {
      sample = s;
    },
    contentType: register.contentType,
    render: () => register.metrics(),
  };
}
