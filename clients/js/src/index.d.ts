/** One session event (docs/conversation.md): `type`, `at`, and the fields of its type. */
export interface SessionEvent {
  type: string;
  at?: number;
  [field: string]: any;
}

export type Transport = 'websocket' | 'sse' | 'long-poll';

export interface ConnectionState {
  status: 'idle' | 'connecting' | 'open' | 'reconnecting' | 'paused' | 'closed';
  transport: Transport | null;
  /** The offset after the last event delivered. */
  offset: string;
  /** The offset the current connection started from when it replaced another one. */
  resumedFrom: string | null;
  attempt: number;
  error: string | null;
}

export interface SessionOptions {
  baseUrl: string;
  sessionId: string;
  token: string;
  device?: string;
  /** Order of transports to try; default `['websocket', 'sse', 'long-poll']`. */
  transports?: Transport[];
  /** Where the offset is kept across reloads; default `localStorage`, `null` for nowhere. */
  storage?: { getItem(key: string): string | null; setItem(key: string, value: string): void } | null;
  /** Silence after which a connection counts as dead; default 50 000 ms. */
  heartbeatTimeoutMs?: number;
  backoff?: { initialMs?: number; maxMs?: number };
  /** Failures of a transport before its first frame that make the client try the next one; default 2. */
  failuresBeforeFallback?: number;
  /** On a fallback transport, when to try WebSocket again; default 30 000 ms, doubling to 10 min. */
  upgradeAfterMs?: number;
  /**
   * Called when the server refuses the token (401: expired, revoked). A token it returns is used at
   * once, from the same offset, and a refused command is retried with it; `null` leaves the refusal
   * to the app (an `error` event).
   */
  renewToken?: (error: TetherError) => Promise<string | null | undefined> | string | null | undefined;
  fetch?: typeof fetch;
  WebSocket?: any;
  random?: () => number;
}

export interface SessionEventMap {
  /** Each event once, in order, across reconnects and transport changes. */
  event: SessionEvent;
  state: ConnectionState;
  /** After a `410` (the offset left the server's ring): the conversation so far; events continue after it. */
  snapshot: any;
  /** A refusal retrying will not fix: 401 (`setToken` resumes), 403, 404. */
  error: TetherError;
}

/** Offsets are fixed-width strings; `-1` is before the first event. */
export function compareOffsets(a: string, b: string): -1 | 0 | 1;

/** Full-jitter exponential backoff: a random delay up to min(max, initial * 2^attempt). */
export function backoffDelay(attempt: number, options?: { initialMs?: number; maxMs?: number }, random?: () => number): number;

/** Incremental `text/event-stream` parser. */
export class SseParser {
  constructor(onEvent: (type: string, data: string) => void, onComment?: () => void);
  feed(text: string): void;
}

/** A refusal from the server: HTTP status and the error code of docs/errors.md. */
export class TetherError extends Error {
  constructor(status: number, code: string, message: string);
  readonly status: number;
  readonly code: string;
}

/** The answer of a command (see docs/conversation.md for each). */
export interface CommandAnswer {
  offset?: string;
  turn?: number;
  messageId?: string;
  callId?: string;
  state?: string;
  duplicate?: boolean;
  [field: string]: any;
}

/** One session as seen by one device. */
export class TetherSession {
  constructor(options: SessionOptions);
  on<K extends keyof SessionEventMap>(type: K, listener: (value: SessionEventMap[K]) => void): () => void;
  readonly state: ConnectionState;
  /** The offset after the last event delivered. */
  readonly offset: string;
  /** Follows the session from `from` (default: the stored offset, else the beginning). */
  connect(from?: string): void;
  /** Drops the connection until `resume()` (a "network loss" switch). */
  pause(): void;
  resume(): void;
  close(): void;
  /** Replaces the token; a client stopped by a refused token resumes with it from its offset. */
  setToken(token: string): void;
  send(text: string, options?: { messageId?: string }): Promise<CommandAnswer>;
  stop(): Promise<CommandAnswer>;
  approve(callId: string): Promise<CommandAnswer>;
  deny(callId: string, reason?: string): Promise<CommandAnswer>;
  toolResult(callId: string, result: unknown): Promise<CommandAnswer>;
  /** The conversation folded from its events, and the offset it reflects. */
  snapshot(): Promise<any>;
  /** A token for another device of this session (needs a write token). */
  tokenFor(device: string, scope?: 'read' | 'write'): Promise<{ token: string; scope: string; expiresAt: string }>;
}
