/**
 * The store ports of the hub's domain: one interface per aggregate, declared here and
 * implemented by the adapters (src/hub/store/sqlite/ today; PostgreSQL later). Every adapter
 * runs through the one contract suite, src/hub/store/store-suite.ts.
 *
 * Every method returns a Promise: a networked database (PostgreSQL) answers later, and SQLite's
 * adapter answers with values already resolved. The domain only reaches the store through
 * these ports; work that must be atomic goes through `UnitOfWork.transaction`, which hands the
 * work its own transaction-bound ports. Errors a caller may retry (a busy or unreachable
 * database) reject with the domain's UnavailableError, mapped in each adapter.
 */
import type { NotifyStore } from './notify/notify-store.js';
import type { HubSession, MachineRecord, TokenRecord, WebSessionRecord } from './types.js';
import type { AgentActivityInfo, ApprovalDecisionRecordInfo } from '../../contract/activity-types.js';

/** Namespaces exist once something (a token, a machine) belongs to them. */
export interface NamespaceStore {
  /** Creates the namespace unless it exists. */
  ensureNamespace(name: string): Promise<void>;
}

/** Tokens; the secret is never stored, only its hash. */
export interface TokenStore {
  /** Inserts a token under the hash of its secret; its namespace must exist. */
  insertToken(rec: TokenRecord, hash: string): Promise<void>;
  /** The token with this secret hash, revoked or not. */
  findTokenByHash(hash: string): Promise<TokenRecord | undefined>;
  /** Tokens that are not revoked, oldest first. */
  listTokens(): Promise<TokenRecord[]>;
  /** The token with this id, revoked or not. */
  getToken(id: string): Promise<TokenRecord | undefined>;
  /** Marks the token revoked; false when it is unknown or already revoked. */
  revokeToken(id: string, at: Date): Promise<boolean>;
  /** Owner tokens that are not revoked. */
  countOwnerTokens(): Promise<number>;
  /**
   * Inserts this owner token unless a live (not revoked) owner token exists; true when it did.
   * Atomic in the database (a unique index on the live owner), so of several hubs starting at
   * once on one database exactly one creates it.
   */
  insertOwnerTokenOnce(rec: TokenRecord, hash: string): Promise<boolean>;
}

/** Machines with their versioned metadata and runner state. */
export interface MachineStore {
  getMachine(id: string): Promise<MachineRecord | undefined>;
  /** A namespace's machines, online ones first, then by id. */
  listMachines(namespace: string): Promise<MachineRecord[]>;
  /** Inserts a new machine; its namespace must exist. */
  insertMachine(m: MachineRecord): Promise<void>;
  /** Saves every field of an existing machine except its id and namespace. */
  saveMachine(m: MachineRecord): Promise<void>;
  /** Updates only the last-alive times (batched by the presence sweeper). */
  saveLastAlive(entries: { id: string; lastAlive: Date }[]): Promise<void>;
  /**
   * Marks every machine offline (hub start): nobody is connected yet. A runner state that said
   * running becomes lost since `at` (lostRunnerState, its version bumped). Returns how many were online.
   */
  markAllOffline(at: Date): Promise<number>;
}

/**
 * Which hub replica holds a machine's runner stream (several replicas on PostgreSQL: README,
 * "Several hub replicas"), with an epoch that rises on every connect. A single hub never calls
 * these; both adapters have them (migration 7) so the ports stay one set.
 */
export interface MachineOwnershipStore {
  /** Makes `replicaId` the machine's owner with the next epoch (one atomic UPDATE ... RETURNING); the new epoch, or undefined for an unknown machine. */
  claimMachine(machineId: string, replicaId: string): Promise<number | undefined>;
  /**
   * The machine's owner and epoch. In a transaction on PostgreSQL the row stays locked until it
   * ends (FOR UPDATE), so a claim on another replica waits for the writes checked against it.
   */
  machineOwner(machineId: string): Promise<{ replicaId?: string; epoch: number } | undefined>;
}

/** Sessions as runners report them, keyed by (machine id, session id). */
export interface SessionStore {
  /** Inserts or replaces the session (its machine must exist). */
  upsertSession(s: HubSession): Promise<void>;
  getSession(machineId: string, id: string): Promise<HubSession | undefined>;
  /** A namespace's sessions, newest first; ended ones only with `includeEnded`. */
  listSessions(namespace: string, opts: { machineId?: string; includeEnded?: boolean }): Promise<HubSession[]>;
  /** Live (starting/running) sessions of a machine. */
  liveSessionsOf(machineId: string): Promise<HubSession[]>;
  /**
   * The agent's activity as the replica holding the runner's stream last heard it (undefined:
   * none), read back as `sharedActivity` by every replica. Written once per change of it, never
   * per alive; `upsertSession` leaves it as it is. A missing session is no error (nothing written).
   */
  setSessionActivity(machineId: string, id: string, activity: AgentActivityInfo | undefined): Promise<void>;
}

/** Web sign-in sessions (the web page's cookie sessions), so a hub restart signs nobody out. */
export interface WebSessionTable {
  listWebSessions(): Promise<WebSessionRecord[]>;
  /** The row with this key (with several replicas the table, not a replica's memory, is the truth). */
  getWebSession(key: string): Promise<WebSessionRecord | undefined>;
  /** Inserts the row, replacing one with the same key. */
  insertWebSession(row: WebSessionRecord): Promise<void>;
  touchWebSession(key: string, lastSeenAt: number): Promise<void>;
  deleteWebSessions(keys: string[]): Promise<void>;
}

/** Decisions on agents' approval requests (who, from where, when, what); append-only. */
export interface ApprovalDecisionStore {
  insertDecision(rec: ApprovalDecisionRecordInfo & { namespace: string }): Promise<void>;
  /** A session's decisions, oldest first. */
  listDecisions(machineId: string, sessionId: string): Promise<ApprovalDecisionRecordInfo[]>;
}

/** The ports a unit of work may use; all of them see the same transaction. */
export type TransactionStores = NamespaceStore & TokenStore & MachineStore & SessionStore & MachineOwnershipStore;

/** Atomic work across aggregates. */
export interface UnitOfWork {
  /** Runs `work` in one transaction: committed when it returns, rolled back when it throws (and rethrown). */
  transaction<T>(work: (tx: TransactionStores) => Promise<T>): Promise<T>;
}

/** Everything one hub database provides. */
export interface HubStore extends TransactionStores, WebSessionTable, ApprovalDecisionStore, NotifyStore, OneTimeCodeStore, UnitOfWork {
  /** Where the data lives (a file path, or a URL without credentials). */
  readonly path: string;
  /**
   * Present only where several hubs share the database (PostgreSQL): rate limits counted in
   * it, so every replica spends one budget. SQLite hubs are alone and count in memory.
   */
  takeSharedRateLimit?: SharedRateLimitStore['takeSharedRateLimit'];
  close(): Promise<void>;
}

/** A rate limit kept in a database shared by hub replicas (token bucket, as src/shared/rate-limit.ts). */
export interface SharedRateLimitStore {
  /**
   * Takes one action for `key` at `now` under `limit` (`burst` at once, then one every
   * `intervalMs`): 0 when allowed, otherwise ms until it would be. Refused tries cost nothing.
   * Atomic across replicas: concurrent takes never grant more than the budget.
   */
  takeSharedRateLimit(key: string, limit: { burst: number; intervalMs: number }, now: number): Promise<number>;
}

/** What a one-time code stands for. */
export type OneTimeCodeKind = 'sign-in-link' | 'attach-ticket';

/**
 * Short-lived secrets redeemed once (sign-in links, attach tickets), kept in the database so
 * that with several hub replicas a code made on one is redeemed on any, and only once.
 * Only the code's hash is stored, never the code.
 */
export interface OneTimeCodeStore {
  /** Stores a code until `expiresAt` (epoch ms); expired codes are deleted along the way. */
  insertOneTimeCode(code: { kind: OneTimeCodeKind; hash: string; payload: string; expiresAt: number }): Promise<void>;
  /**
   * Deletes the code and returns its payload when it exists and has not expired at `now`;
   * undefined otherwise. Atomic: of callers racing (on any replica) exactly one gets it.
   */
  takeOneTimeCode(kind: OneTimeCodeKind, hash: string, now: number): Promise<string | undefined>;
  /** Codes of this kind not expired at `now`. */
  countOneTimeCodes(kind: OneTimeCodeKind, now: number): Promise<number>;
}
