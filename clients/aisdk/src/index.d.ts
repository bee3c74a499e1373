import type { ChatTransport, UIMessage, UIMessageChunk } from 'ai';
import type { SessionEvent, SessionOptions, TetherSession } from '@tether/client';

/** The id of the assistant message that answers turn `turn`: `turn-<turn>`. */
export function assistantMessageId(turn: number): string;

/** A session snapshot as `GET /v1/sessions/{id}` returns it (docs/conversation.md). */
export interface SessionSnapshot {
  sessionId: string;
  offset: string;
  turn: number;
  generation: { state: 'idle' | 'running' | 'waiting_for_tools' | 'completed' | 'stopped' | 'failed'; messageId?: string | null };
  messages: Array<{
    id: string;
    role: 'user' | 'assistant';
    turn: number;
    text: string;
    device?: string;
    complete?: boolean;
    finishReason?: string;
    toolCalls?: number;
  }>;
  tools: Array<{
    callId: string;
    messageId: string;
    turn: number;
    name: string;
    arguments: string;
    approval: boolean;
    executor: string;
    state: string;
    result?: unknown;
    error?: string;
    decidedBy?: string;
    reason?: string;
  }>;
  devices: string[];
  eventCount: number;
}

/** Folds one turn's session events into UI message chunks (after the opening `start`). */
export class TurnChunker {
  constructor(turn: number, enqueue: (chunk: UIMessageChunk) => void);
  readonly turn: number;
  /** True once the turn ended, or waits for a person's decision on a tool call. */
  readonly done: boolean;
  apply(event: SessionEvent): void;
}

/** The events that rebuild `turn`'s answer (default: the current turn) from a snapshot. */
export function turnEventsFromSnapshot(snapshot: SessionSnapshot, turn?: number): SessionEvent[];

/** The chat's UI messages from a snapshot: per turn the user message and one assistant message. */
export function snapshotToUIMessages(snapshot: SessionSnapshot): UIMessage[];

export interface TetherChatTransportOptions {
  /** A Tether node, or the load balancer in front of the cluster. */
  baseUrl: string;
  /** The session's write token, or a function that returns it for a chat id (the chat id is the session id). */
  token: string | ((chatId: string) => string | Promise<string>);
  /** The device name, when the token does not carry one. */
  device?: string;
  /** Options for the underlying `TetherSession` readers (transports, backoff, heartbeat timeout, WebSocket). */
  sessionOptions?: Partial<SessionOptions>;
  fetch?: typeof fetch;
}

/** An AI SDK `ChatTransport` backed by a Tether session (`useChat({ id: sessionId, transport })`). */
export class TetherChatTransport<UI_MESSAGE extends UIMessage = UIMessage> implements ChatTransport<UI_MESSAGE> {
  constructor(options: TetherChatTransportOptions);
  readonly resumeStreamIsReplay: true;
  /** Posts the last user message, or the tool decisions of the last answer, and streams the turn. */
  sendMessages(options: Parameters<ChatTransport<UI_MESSAGE>['sendMessages']>[0]): Promise<ReadableStream<UIMessageChunk>>;
  /** The running turn from the snapshot on (a replay, then live), or null when no turn runs. */
  reconnectToStream(options: Parameters<ChatTransport<UI_MESSAGE>['reconnectToStream']>[0]): Promise<ReadableStream<UIMessageChunk> | null>;
  /** A Tether session for the chat (not connected), for commands and snapshots. */
  session(chatId: string, extra?: Partial<SessionOptions>): Promise<TetherSession>;
  /** The chat's messages from the server, for `useChat({ messages })`. */
  loadMessages(chatId: string): Promise<UI_MESSAGE[]>;
  /**
   * Calls `onActivity` when another device starts a turn or decides on a tool call.
   * Resolves to a function that stops watching.
   */
  watch(chatId: string, onActivity: (event: SessionEvent) => void): Promise<() => void>;
}
