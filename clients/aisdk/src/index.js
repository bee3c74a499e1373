// An AI SDK chat transport backed by a Tether session: `useChat` sends its messages, approvals and
// stops to the session, and reads each answer from the session's durable stream with the Tether
// client (WebSocket, then SSE, then long-poll; resumes from the last offset after any network loss).
// It imports nothing from `ai` at run time: the chunks it yields are plain `UIMessageChunk` objects.
import { TetherSession, TetherError } from '@tether/client';

/** The id of the assistant message that answers turn `turn` (one per turn, every step inside it). */
export const assistantMessageId = (turn) => `turn-${turn}`;

const TURN_ID = /^turn-(\d+)$/;
const isToolPart = (part) => part?.type === 'dynamic-tool' || (typeof part?.type === 'string' && part.type.startsWith('tool-'));

function parseJson(text) {
  if (typeof text !== 'string') return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Folds one turn's Tether events into AI SDK UI message chunks (after the opening `start`, which the
 * caller sends). `enqueue` gets each chunk; `done` is true once the turn ended or waits for a person's
 * decision on a tool call.
 */
export class TurnChunker {
  constructor(turn, enqueue) {
    this.turn = turn;
    this.enqueue = enqueue;
    this.stepOpen = false;
    this.openTexts = new Set();
    this.expectedTools = null;
    this.requested = new Map(); // callId -> needs approval
    this.awaiting = new Set();
    this.done = false;
  }

  /** Applies one session event; events of other turns are ignored. */
  apply(event) {
    if (this.done) return;
    if (event.turn !== undefined && event.turn !== this.turn) return;
    switch (event.type) {
      case 'assistant.start':
        this.closeStep();
        this.enqueue({ type: 'start-step' });
        this.stepOpen = true;
        this.enqueue({ type: 'text-start', id: event.messageId });
        this.openTexts.add(event.messageId);
        break;
      case 'assistant.delta':
        if (!this.openTexts.has(event.messageId)) {
          // A reader that starts mid-message (a replay) opens it first.
          if (!this.stepOpen) {
            this.enqueue({ type: 'start-step' });
            this.stepOpen = true;
          }
          this.enqueue({ type: 'text-start', id: event.messageId });
          this.openTexts.add(event.messageId);
        }
        if (event.text) this.enqueue({ type: 'text-delta', id: event.messageId, delta: event.text });
        break;
      case 'assistant.end':
        if (this.openTexts.delete(event.messageId)) this.enqueue({ type: 'text-end', id: event.messageId });
        if (event.finishReason === 'tool_calls') {
          this.expectedTools = event.toolCalls ?? null;
          this.requested.clear();
          this.awaiting.clear();
        }
        break;
      case 'tool.requested':
        if (!this.stepOpen) {
          this.enqueue({ type: 'start-step' });
          this.stepOpen = true;
        }
        this.enqueue({
          type: 'tool-input-available', toolCallId: event.callId, toolName: event.name,
          input: parseJson(event.arguments), dynamic: true,
        });
        this.requested.set(event.callId, Boolean(event.approval));
        break;
      case 'tool.awaiting_approval':
        this.enqueue({ type: 'tool-approval-request', approvalId: event.callId, toolCallId: event.callId });
        this.awaiting.add(event.callId);
        break;
      case 'tool.denied':
        this.awaiting.delete(event.callId);
        this.enqueue({ type: 'tool-output-denied', toolCallId: event.callId });
        break;
      case 'tool.approved':
        this.awaiting.delete(event.callId);
        break;
      case 'tool.completed':
        this.enqueue({ type: 'tool-output-available', toolCallId: event.callId, output: parseJson(event.result), dynamic: true });
        break;
      case 'tool.failed':
        this.enqueue({ type: 'tool-output-error', toolCallId: event.callId, errorText: String(event.error ?? 'tool failed'), dynamic: true });
        break;
      case 'generation.completed':
        this.finish('stop');
        break;
      case 'generation.stopped':
        this.finish('other');
        break;
      case 'generation.failed':
        this.closeTexts();
        this.enqueue({ type: 'error', errorText: String(event.error ?? 'the answer failed') });
        this.done = true;
        break;
      default:
        break;
    }
    if (!this.done && this.waitsForDecision()) this.finish('tool-calls');
  }

  /** Every tool call of the answer is known and each one that needs a person is waiting for one. */
  waitsForDecision() {
    if (this.expectedTools === null || this.requested.size < this.expectedTools || this.awaiting.size === 0) return false;
    for (const [callId, approval] of this.requested) {
      if (approval && !this.awaiting.has(callId)) return false;
    }
    return true;
  }

  closeTexts() {
    for (const id of this.openTexts) this.enqueue({ type: 'text-end', id });
    this.openTexts.clear();
  }

  closeStep() {
    if (this.stepOpen) this.enqueue({ type: 'finish-step' });
    this.stepOpen = false;
  }

  finish(finishReason) {
    this.closeTexts();
    this.closeStep();
    this.enqueue({ type: 'finish', finishReason });
    this.done = true;
  }
}

/**
 * The session events that rebuild the current turn's answer from a snapshot (in the order they were
 * appended, as far as the snapshot keeps it): a reader that resumes replays them, then follows the
 * stream from the snapshot's offset.
 */
export function turnEventsFromSnapshot(snapshot, turn = snapshot.turn) {
  const events = [];
  const tools = snapshot.tools ?? [];
  for (const m of snapshot.messages ?? []) {
    if (m.role !== 'assistant' || m.turn !== turn) continue;
    events.push({ type: 'assistant.start', messageId: m.id, turn });
    if (m.text) events.push({ type: 'assistant.delta', messageId: m.id, text: m.text });
    if (!m.complete) continue;
    events.push({ type: 'assistant.end', messageId: m.id, finishReason: m.finishReason, toolCalls: m.toolCalls });
    for (const t of tools.filter((tool) => tool.messageId === m.id)) {
      events.push({ type: 'tool.requested', callId: t.callId, messageId: m.id, turn, name: t.name, arguments: t.arguments, approval: t.approval });
      if (t.state === 'awaiting_approval') events.push({ type: 'tool.awaiting_approval', callId: t.callId });
      if (t.state === 'denied') events.push({ type: 'tool.denied', callId: t.callId });
      if (t.state === 'completed') events.push({ type: 'tool.completed', callId: t.callId, result: t.result });
      if (t.state === 'failed') events.push({ type: 'tool.failed', callId: t.callId, error: t.error });
    }
  }
  if (turn === snapshot.turn) {
    const closing = { completed: 'generation.completed', stopped: 'generation.stopped', failed: 'generation.failed' }[snapshot.generation?.state];
    if (closing) events.push({ type: closing, turn });
  }
  return events;
}

/** The AI SDK UI messages of a session snapshot: per turn, the user message and one assistant message. */
export function snapshotToUIMessages(snapshot) {
  const out = [];
  for (const m of snapshot.messages ?? []) {
    if (m.role !== 'user') continue;
    out.push({ id: m.id, role: 'user', parts: [{ type: 'text', text: m.text }] });
    const parts = turnParts(m.turn, turnEventsFromSnapshot(snapshot, m.turn));
    if (parts.length > 0) out.push({ id: assistantMessageId(m.turn), role: 'assistant', parts });
  }
  return out;
}

/** A turn's events folded into finished UI message parts: what the SDK builds from the same chunks. */
function turnParts(turn, events) {
  const parts = [];
  const texts = new Map();
  const tools = new Map();
  const chunker = new TurnChunker(turn, (chunk) => {
    switch (chunk.type) {
      case 'start-step':
        parts.push({ type: 'step-start' });
        break;
      case 'text-start': {
        const part = { type: 'text', text: '', state: 'streaming' };
        texts.set(chunk.id, part);
        parts.push(part);
        break;
      }
      case 'text-delta':
        texts.get(chunk.id).text += chunk.delta;
        break;
      case 'text-end':
        texts.get(chunk.id).state = 'done';
        break;
      case 'tool-input-available': {
        const part = { type: 'dynamic-tool', toolName: chunk.toolName, toolCallId: chunk.toolCallId, state: 'input-available', input: chunk.input };
        tools.set(chunk.toolCallId, part);
        parts.push(part);
        break;
      }
      case 'tool-approval-request':
        Object.assign(tools.get(chunk.toolCallId), { state: 'approval-requested', approval: { id: chunk.approvalId } });
        break;
      case 'tool-output-denied':
        Object.assign(tools.get(chunk.toolCallId), { state: 'output-denied', approval: { id: chunk.toolCallId, approved: false } });
        break;
      case 'tool-output-available':
        Object.assign(tools.get(chunk.toolCallId), { state: 'output-available', output: chunk.output });
        break;
      case 'tool-output-error':
        Object.assign(tools.get(chunk.toolCallId), { state: 'output-error', errorText: chunk.errorText });
        break;
      default:
        break;
    }
  });
  for (const event of events) chunker.apply({ ...event, turn });
  return parts;
}

/**
 * A `ChatTransport` for the AI SDK (`useChat({ transport })`) where the chat id is a Tether session id.
 *
 * - `sendMessages` posts the last user message (its UI id as `messageId`, so a retry appends nothing)
 *   or the approvals and denials made with `addToolApprovalResponse`, then streams the turn's answer.
 * - `reconnectToStream` resumes the running turn after a reload: the answer so far from the snapshot,
 *   then the live events after it (`resumeStreamIsReplay`: the SDK replaces what it had).
 * - Aborting a stream (`stop()`) stops the generation on the server, for every device.
 * - `watch` reports turns that another device started or continued, so a page can follow them.
 */
export class TetherChatTransport {
  /**
   * @param {{
   *   baseUrl: string,
   *   token: string | ((chatId: string) => string | Promise<string>),
   *   device?: string,
   *   sessionOptions?: object,
   *   fetch?: typeof fetch
   * }} options
   */
  constructor(options) {
    if (!options?.baseUrl || !options.token) throw new TypeError('baseUrl and token are required');
    this.baseUrl = options.baseUrl.replace(/\/$/, '');
    this.token = options.token;
    this.device = options.device;
    this.sessionOptions = options.sessionOptions ?? {};
    this.fetch = options.fetch;
    this.resumeStreamIsReplay = true;
    this.sent = new Set();      // user message ids this transport sent
    this.decided = new Set();   // tool calls this transport approved or denied
    this.positions = new Map(); // chatId -> {turn, offset}: where the last answer's reader stopped
    this.reconnects = new Map(); // chatId -> count of reconnect calls (tells a stop from a replaced reader)
  }

  /** A Tether session for `chatId`, for commands and reading. */
  async session(chatId, extra = {}) {
    const token = typeof this.token === 'function' ? await this.token(chatId) : this.token;
    return new TetherSession({
      baseUrl: this.baseUrl, sessionId: chatId, token, device: this.device, storage: null,
      ...(this.fetch ? { fetch: this.fetch } : {}), ...this.sessionOptions, ...extra,
    });
  }

  /** The chat's messages as the AI SDK holds them, from the session's snapshot (for `useChat({messages})`). */
  async loadMessages(chatId) {
    return snapshotToUIMessages(await (await this.session(chatId)).snapshot());
  }

  async sendMessages({ trigger, chatId, messages, abortSignal }) {
    if (trigger === 'regenerate-message') {
      throw new Error('Tether answers each message once; send a new message instead of regenerating');
    }
    const session = await this.session(chatId);
    const last = messages[messages.length - 1];
    if (last?.role === 'user') {
      const text = last.parts.filter((p) => p.type === 'text').map((p) => p.text).join('');
      this.sent.add(last.id);
      const answer = await session.send(text, { messageId: last.id });
      if (answer.duplicate) return this.resume(chatId, session, abortSignal, false);
      return this.read(chatId, session, answer.turn, answer.offset, [], abortSignal);
    }
    if (last?.role === 'assistant') {
      const match = TURN_ID.exec(last.id);
      const decisions = last.parts.filter((p) => isToolPart(p) && p.state === 'approval-responded' && !this.decided.has(p.toolCallId));
      const turn = match ? Number(match[1]) : null;
      const position = this.positions.get(chatId);
      let from = position && position.turn === turn ? position.offset : null;
      for (const part of decisions) {
        this.decided.add(part.toolCallId);
        try {
          const answer = part.approval.approved ? await session.approve(part.toolCallId)
            : await session.deny(part.toolCallId, part.approval.reason);
          from ??= answer.offset ?? null;
        } catch (error) {
          // Decided on another device first: the turn goes on with that decision.
          if (!(error instanceof TetherError && error.code === 'tool_not_awaiting_approval')) throw error;
        }
      }
      if (!match || from === null) return this.resume(chatId, session, abortSignal, false);
      return this.read(chatId, session, turn, from, [], abortSignal);
    }
    throw new Error('nothing to send: the last message is neither a user message nor an answer with decisions');
  }

  async reconnectToStream({ chatId, abortSignal }) {
    this.reconnects.set(chatId, (this.reconnects.get(chatId) ?? 0) + 1);
    return this.resume(chatId, await this.session(chatId), abortSignal, true);
  }

  /** The running turn from the snapshot on, or null when no turn runs. */
  async resume(chatId, session, abortSignal, nullWhenIdle) {
    const snapshot = await session.snapshot();
    const state = snapshot.generation?.state;
    if (state !== 'running' && state !== 'waiting_for_tools') {
      if (nullWhenIdle) return null;
    }
    return this.read(chatId, session, snapshot.turn, snapshot.offset, turnEventsFromSnapshot(snapshot), abortSignal);
  }

  /** A stream of the turn's chunks: `replay` first, then the session's events from `from`. */
  read(chatId, session, turn, from, replay, abortSignal) {
    const positions = this.positions;
    const reconnects = this.reconnects;
    const reconnectsAtStart = reconnects.get(chatId) ?? 0;
    let ended = false;
    const end = () => {
      ended = true;
      session.close();
    };
    return new ReadableStream({
      start(controller) {
        const chunker = new TurnChunker(turn, (chunk) => controller.enqueue(chunk));
        const settle = () => {
          if (!chunker.done) return false;
          end();
          controller.close();
          return true;
        };
        positions.set(chatId, { turn, offset: from });
        controller.enqueue({ type: 'start', messageId: assistantMessageId(turn) });
        for (const event of replay) chunker.apply({ ...event, turn: event.turn ?? turn });
        if (settle()) return;
        session.on('event', (event) => {
          if (ended) return;
          positions.set(chatId, { turn, offset: session.offset });
          chunker.apply(event);
          settle();
        });
        session.on('snapshot', () => {
          if (ended) return;
          // The reader's offset left the server's ring (410): the page reloads the chat instead.
          end();
          controller.error(new Error('the answer moved past the server\'s buffer; reload the chat'));
        });
        session.on('error', (error) => {
          if (ended) return;
          end();
          controller.error(error);
        });
        abortSignal?.addEventListener('abort', () => {
          if (ended) return;
          end();
          // A stop ends the generation for every device. The SDK also aborts a resumed reader when it
          // replaces it with a new one, calling reconnectToStream right after: that is not a stop.
          queueMicrotask(() => {
            if ((reconnects.get(chatId) ?? 0) === reconnectsAtStart) session.stop().catch(() => {});
          });
        }, { once: true });
        session.connect(from);
      },
      cancel() {
        if (!ended) end();
      },
    });
  }

  /**
   * Calls `onActivity(event)` when another device starts a turn (`user.message`) or decides on a tool
   * call: the page reloads its messages (`loadMessages`) and calls `resumeStream()` to follow the answer.
   * @returns {Promise<() => void>} stops watching
   */
  async watch(chatId, onActivity) {
    const session = await this.session(chatId);
    const snapshot = await session.snapshot();
    session.on('event', (event) => {
      const remote = (event.type === 'user.message' && !this.sent.has(event.messageId))
        || ((event.type === 'tool.approved' || event.type === 'tool.denied') && !this.decided.has(event.callId));
      if (remote) onActivity(event);
    });
    session.connect(snapshot.offset);
    return () => session.close();
  }
}
