/**
 * The plain-TypeScript side of SessionService (proto/hapi/session/v1): what the session
 * process's terminal domain and the CLI use, without depending on gen/.
 */

import type { AgentActivityInfo } from './activity-types.js';

/** Protocol version of SessionService that this build serves (GetInfo). */
export const SESSION_PROTOCOL_VERSION = 1;

/** Largest input accepted in one message (SendInput, Attach input). */
export const MAX_INPUT_BYTES = 64 * 1024;

/** Sizes are 1..MAX_TERMINAL_DIMENSION in each direction. */
export const MAX_TERMINAL_DIMENSION = 1000;

export type AttachMode = 'interactive' | 'read-only';

export interface TerminalSize {
  cols: number;
  rows: number;
}

export interface AttachHello {
  mode: AttachMode;
  /** Undefined: the viewer does not impose a size. */
  size?: TerminalSize;
  /** Offset just past the last output byte the viewer holds. */
  lastOffset?: number;
  /** A person's own terminal on this machine (hello.local_terminal); cleared for viewers through the hub. */
  localTerminal?: boolean;
}

/** A client message of an Attach stream after validation. */
export type ViewerMessage =
  | { kind: 'hello'; hello: AttachHello }
  | { kind: 'input'; data: Buffer }
  | { kind: 'resize'; size: TerminalSize }
  | { kind: 'ack'; offset: number };

export interface ExitStatus {
  exitCode?: number;
  exitSignal?: string;
}

export interface ScreenSnapshot {
  /** ANSI that reproduces the screen in a fresh terminal of cols x rows. */
  ansi: string;
  cursor: { x: number; y: number };
  cols: number;
  rows: number;
  offset: number;
}

/** A server message of an Attach stream. */
export type ViewerEvent =
  | { kind: 'snapshot'; snapshot: ScreenSnapshot }
  | { kind: 'output'; offset: number; data: Buffer }
  | { kind: 'exited'; status: ExitStatus };

export interface ScreenText extends ScreenSnapshot {
  /** The visible rows as plain text. */
  text: string;
}

/** What to type: raw bytes, or text (a bracketed paste when the application enabled it). */
export type SessionInput = { data: Buffer; enter: boolean } | { text: string; enter: boolean };

export interface TerminalInfo {
  id: string;
  agent: string;
  directory: string;
  cols: number;
  rows: number;
  startedBy: 'runner' | 'terminal';
  pid: number;
  viewers: number;
  lastOutputAt?: Date;
  exitStatus?: ExitStatus;
  outputOffset: number;
  /** What the agent is doing; undefined when the session does not say. */
  activity?: AgentActivityInfo;
}
