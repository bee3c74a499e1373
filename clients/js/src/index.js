// Tether client: follows one session's events over WebSocket, then SSE, then long-poll, resuming from
// the last offset it applied, and sends the session's commands. No dependencies; runs in browsers and
// in Node 20+ (pass `WebSocket` there, or use Node 22).

/**
 * @typedef {{type: string, at?: number, [field: string]: any}} SessionEvent
 *   One session event (see docs/conversation.md).
 * @typedef {'websocket' | 'sse' | 'long-poll'} Transport
 * @typedef {{
 *   status: 'idle' | 'connecting' | 'open' | 'reconnecting' | 'paused' | 'closed',
 *   transport: Transport | null,
 *   offset: string,
 *   resumedFrom: string | null,
 *   attempt: number,
 *   error: string | null
 * }} ConnectionState
 *   `resumedFrom` is the offset the current connection started from when it replaced another one.
 * @typedef {{
 *   baseUrl: string,
 *   sessionId: string,
 *   token: string,
 *   device?: string,
 *   transports?: Transport[],
 *   storage?: {getItem(key: string): string | null, setItem(key: string, value: string): void} | null,
 *   heartbeatTimeoutMs?: number,
 *   backoff?: {initialMs?: number, maxMs?: number},
 *   failuresBeforeFallback?: number,
 *   upgradeAfterMs?: number,
 *   renewToken?: (error: TetherError) => Promise<string | null | undefined> | string | null | undefined,
 *   fetch?: typeof fetch,
 *   WebSocket?: any,
 *   random?: () => number
 * }} SessionOptions
 */

const ALL_TRANSPORTS = /** @type {Transport[]} */ (['websocket', 'sse', 'long-poll']);

/** Offsets are fixed-width `index_bytes` strings: they compare as strings. */
export function compareOffsets(a, b) {
  if (a === b) return 0;
  if (a === '-1') return -1;
  if (b === '-1') return 1;
  return a < b ? -1 : 1;
}

/** Full-jitter exponential backoff: a random delay up to min(max, initial * 2^attempt). */
export function backoffDelay(attempt, { initialMs = 250, maxMs = 10_000 } = {}, random = Math.random) {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 20));
  return Math.round(random() * ceiling);
}

/**
 * Incremental parser of a `text/event-stream` body. Feed it text as it arrives; it calls
 * `onEvent(type, data)` for each complete event and `onComment()` for each comment line (heartbeats).
 */
export class SseParser {
  constructor(onEvent, onComment = () => {}) {
    this.onEvent = onEvent;
    this.onComment = onComment;
    this.buffer = '';
  }

  feed(text) {
    this.buffer += text.replace(/\r\n?/g, '\n');
    let boundary;
    while ((boundary = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, boundary);
      this.buffer = this.buffer.slice(boundary + 2);
      let type = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.onComment();
        else if (line.startsWith('event:')) type = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) this.onEvent(type, data.join('\n'));
    }
  }
}

/** A refusal from the server that reconnecting will not fix (bad token, unknown session). */
export class TetherError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * One session, as seen by one device. Listen with `on('event' | 'state' | 'snapshot' | 'error', fn)`,
 * then `connect()`. Events are delivered once each, in order, across reconnects and transport changes.
 */
export class TetherSession {
  /** @param {SessionOptions} options */
  constructor(options) {
    if (!options?.baseUrl || !options.sessionId || !options.token) {
      throw new TypeError('baseUrl, sessionId and token are required');
    }
    this.baseUrl = options.baseUrl.replace(/\/$/, '');
    this.sessionId = options.sessionId;
    this.token = options.token;
    this.device = options.device ?? null;
    this.transports = (options.transports ?? ALL_TRANSPORTS).filter((t) => ALL_TRANSPORTS.includes(t));
    this.storage = options.storage === undefined ? (globalThis.localStorage ?? null) : options.storage;
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 50_000;
    this.backoff = options.backoff ?? {};
    this.failuresBeforeFallback = options.failuresBeforeFallback ?? 2;
    // On a fallback transport, how long before trying the preferred one again (doubles on each failed
    // try, up to 10 minutes).
    this.upgradeAfterMs = options.upgradeAfterMs ?? 30_000;
    this.upgradeDelay = this.upgradeAfterMs;
    this.upgradeTimer = null;
    // Asked for a new token when the server refuses the current one (401): expired, revoked, or signed
    // with a secret the cluster no longer has. A token it returns is used at once, from the same offset.
    this.renewToken = options.renewToken ?? null;
    this.renewing = null;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this.random = options.random ?? Math.random;
    this.listeners = { event: new Set(), state: new Set(), snapshot: new Set(), error: new Set() };
    this.storageKey = `tether:offset:${this.sessionId}`;
    /** @type {ConnectionState} */
    this.connection = {
      status: 'idle', transport: null, offset: this.storage?.getItem(this.storageKey) ?? '-1',
      resumedFrom: null, attempt: 0, error: null,
    };
    this.transportIndex = 0;
    this.failures = 0;
    this.current = null;
    this.retryTimer = null;
    this.watchdog = null;
    this.everConnected = false;
    // A device that knows it went offline drops its connection at once and reconnects when back.
    globalThis.addEventListener?.('offline', () => {
      if (this.current && !this.closed && !this.paused) this.ended(this.current, 'offline');
    });
    globalThis.addEventListener?.('online', () => {
      if (!this.closed && !this.paused && this.connection.status === 'reconnecting') this.open(true);
    });
  }

  /** @returns {() => void} removes the listener */
  on(type, listener) {
    this.listeners[type].add(listener);
    return () => this.listeners[type].delete(listener);
  }

  /** @returns {ConnectionState} */
  get state() {
    return { ...this.connection };
  }

  /** The offset after the last event delivered. */
  get offset() {
    return this.connection.offset;
  }

  /** Starts following the session from `from` (default: the stored offset, else the beginning). */
  connect(from) {
    if (from !== undefined) this.setOffset(from);
    this.closed = false;
    this.paused = false;
    this.open();
  }

  /** Drops the connection and stops reconnecting until `resume()` (a "network loss" switch). */
  pause() {
    this.paused = true;
    this.teardown();
    this.update({ status: 'paused' });
  }

  resume() {
    if (!this.paused) return;
    this.paused = false;
    this.open(true);
  }

  close() {
    this.closed = true;
    this.teardown();
    this.update({ status: 'closed' });
  }

  /**
   * Replaces the token (a fresh one from the app's backend). A client stopped because its token was
   * refused reconnects with it from the offset it had reached.
   */
  setToken(token) {
    this.token = token;
    if (this.closed && this.refusedToken) {
      this.refusedToken = false;
      this.closed = false;
      this.open(true);
    }
  }

  // ------------------------------------------------------------------------------ commands

  /** Sends a user message; `messageId` makes a retry safe. */
  send(text, { messageId } = {}) {
    return this.command('messages', { text, ...(messageId ? { messageId } : {}) });
  }

  stop() {
    return this.command('stop', {});
  }

  approve(callId) {
    return this.command(`tools/${encodeURIComponent(callId)}/approve`, {});
  }

  deny(callId, reason) {
    return this.command(`tools/${encodeURIComponent(callId)}/deny`, reason ? { reason } : {});
  }

  toolResult(callId, result) {
    return this.command(`tools/${encodeURIComponent(callId)}/result`, { result });
  }

  /** The materialised conversation and the offset it reflects. */
  async snapshot() {
    const response = await this.fetch(`${this.baseUrl}/v1/sessions/${this.sessionId}`, { headers: this.headers() });
    return this.json(response);
  }

  /** A token for another device of this session (needs a write token). */
  async tokenFor(device, scope = 'write') {
    return this.command('tokens', { device, scope });
  }

  async command(path, body, renewed = false) {
    const response = await this.fetch(`${this.baseUrl}/v1/sessions/${this.sessionId}/${path}`, {
      method: 'POST',
      headers: { ...this.headers(), 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    try {
      return await this.json(response);
    } catch (error) {
      if (!renewed && error.status === 401 && await this.renewed(error)) return this.command(path, body, true);
      throw error;
    }
  }

  /** Asks `renewToken` for a new token after a 401 (once at a time); true when it gave one. */
  async renewed(error) {
    if (!this.renewToken) return false;
    this.renewing ??= Promise.resolve().then(() => this.renewToken(error)).catch(() => null)
      .finally(() => { this.renewing = null; });
    const token = await this.renewing;
    if (!token) return false;
    this.token = token;
    return true;
  }

  headers() {
    return { Authorization: `Bearer ${this.token}` };
  }

  async json(response) {
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new TetherError(response.status, body?.error?.code ?? 'error', body?.error?.message ?? response.statusText);
    }
    return body;
  }

  // ------------------------------------------------------------------------------ connection

  open(replacing = false) {
    if (this.closed || this.paused) return;
    this.teardown();
    const transport = this.transports[this.transportIndex];
    const from = this.connection.offset;
    this.update({
      status: this.everConnected || replacing ? 'reconnecting' : 'connecting',
      transport, resumedFrom: this.everConnected ? from : null, error: null,
    });
    const attempt = { transport, opened: false, aborted: false, abort: () => {} };
    this.current = attempt;
    const handlers = {
      opened: () => this.opened(attempt),
      batch: (events, next) => attempt === this.current && this.deliver(events, next),
      alive: () => attempt === this.current && this.feedWatchdog(attempt),
      ended: (reason) => attempt === this.current && this.ended(attempt, reason),
      gone: () => attempt === this.current && this.gone(),
      fatal: (error) => attempt === this.current && this.fatal(error),
    };
    if (transport === 'websocket') this.openWebSocket(attempt, from, handlers);
    else if (transport === 'sse') this.openSse(attempt, from, handlers);
    else this.openLongPoll(attempt, from, handlers);
    this.feedWatchdog(attempt);
  }

  opened(attempt) {
    if (attempt !== this.current || attempt.opened) return;
    attempt.opened = true;
    this.everConnected = true;
    this.failures = 0;
    this.update({ status: 'open', attempt: 0 });
    if (this.transportIndex === 0) {
      this.upgradeDelay = this.upgradeAfterMs;
    } else {
      // A fallback transport works; the preferred one may work again later (a proxy fixed, a network
      // changed): try it after a while, from the offset reached by then.
      clearTimeout(this.upgradeTimer);
      this.upgradeTimer = setTimeout(() => {
        if (attempt !== this.current || this.closed || this.paused) return;
        this.upgradeDelay = Math.min(this.upgradeDelay * 2, 600_000);
        this.transportIndex = 0;
        this.failures = 0;
        this.open(true);
      }, this.upgradeDelay);
    }
  }

  /**
   * A transport stopped: try again with backoff. If it never opened, it may be blocked (a proxy that
   * refuses WebSocket upgrades or buffers SSE): after `failuresBeforeFallback` such failures the next
   * transport is tried, but only if the server answers plain HTTP. A server that does not answer at all
   * (the node is down, the network is gone) is no reason to leave a transport that works when it is back.
   */
  ended(attempt, reason) {
    this.teardown();
    if (this.closed || this.paused) return;
    const tries = this.connection.attempt + 1;
    this.update({ status: 'reconnecting', attempt: tries, error: reason ?? null });
    const retry = () => {
      if (this.closed || this.paused || this.current) return;
      const delay = reason === 'moved' ? 0 : backoffDelay(tries - 1, this.backoff, this.random);
      this.retryTimer = setTimeout(() => this.open(true), delay);
    };
    if (attempt.opened) return retry();
    this.failures += 1;
    if (this.failures < this.failuresBeforeFallback || this.transportIndex >= this.transports.length - 1) {
      return retry();
    }
    this.reachable().then((up) => {
      if (up) {
        this.transportIndex += 1;
        this.failures = 0;
      }
      retry();
    });
  }

  /** Whether the server answers plain HTTP (`/health/live`), within 5 s. */
  async reachable() {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 5_000);
    try {
      const response = await this.fetch(`${this.baseUrl}/health/live`, { signal: controller.signal });
      return response.ok;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The offset left the ring: continue from the snapshot, which the app renders instead. */
  async gone() {
    this.teardown();
    try {
      const snapshot = await this.snapshot();
      this.setOffset(snapshot.offset ?? '-1');
      this.emit('snapshot', snapshot);
      this.open(true);
    } catch (error) {
      this.fatal(error);
    }
  }

  fatal(error) {
    this.teardown();
    if (error.status === 401 && this.renewToken) {
      // Keep going with a new token if the app has one; give up only if it has none.
      this.update({ status: 'reconnecting', error: error.code ?? error.message });
      const attempt = this.current;
      this.renewed(error).then((ok) => {
        if (this.closed || this.paused || this.current !== attempt) return;
        if (ok) this.open(true);
        else this.stopRefused(error);
      });
      return;
    }
    if (error.status === 401) return this.stopRefused(error);
    this.closed = true;
    this.update({ status: 'closed', error: error.message });
    this.emit('error', error);
  }

  /** Stops on a refused token; `setToken` resumes from the same offset. */
  stopRefused(error) {
    this.closed = true;
    this.refusedToken = true;
    this.update({ status: 'closed', error: error.message });
    this.emit('error', error);
  }

  teardown() {
    clearTimeout(this.retryTimer);
    clearTimeout(this.watchdog);
    clearTimeout(this.upgradeTimer);
    if (this.current) {
      this.current.aborted = true;
      this.current.abort();
      this.current = null;
    }
  }

  /** Any traffic (data, control, heartbeat) proves the connection alive; silence ends it. */
  feedWatchdog(attempt) {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      if (attempt === this.current) this.ended(attempt, 'heartbeat timeout');
    }, this.heartbeatTimeoutMs);
  }

  /** Delivers a batch ending at `next` unless it was delivered already. */
  deliver(events, next) {
    if (compareOffsets(next, this.connection.offset) <= 0) return;
    this.setOffset(next);
    for (const event of events) this.emit('event', event);
  }

  setOffset(offset) {
    this.connection.offset = offset;
    this.storage?.setItem(this.storageKey, offset);
  }

  update(changes) {
    Object.assign(this.connection, changes);
    this.emit('state', this.state);
  }

  emit(type, value) {
    for (const listener of this.listeners[type]) {
      try {
        listener(value);
      } catch (error) {
        setTimeout(() => { throw error; });
      }
    }
  }

  streamUrl(from, live) {
    const params = new URLSearchParams({ offset: from, live });
    if (this.device) params.set('device', this.device);
    return `${this.baseUrl}/v1/stream/sessions/${this.sessionId}?${params}`;
  }

  // ------------------------------------------------------------------------------ transports

  openWebSocket(attempt, from, h) {
    if (!this.WebSocket) {
      queueMicrotask(() => h.ended('no WebSocket here'));
      return;
    }
    const url = `${this.streamUrl(from, 'ws')}&token=${encodeURIComponent(this.token)}`.replace(/^http/, 'ws');
    let socket;
    try {
      socket = new this.WebSocket(url);
    } catch (error) {
      queueMicrotask(() => h.ended(error.message));
      return;
    }
    attempt.abort = () => socket.close(1000);
    // Open means a first frame arrived (the server always starts with one): a socket that a proxy
    // accepts and then cuts before any frame counts as a failed attempt, so the client falls back.
    socket.onmessage = (message) => {
      h.opened();
      h.alive();
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame.type === 'data') h.batch(Array.isArray(frame.data) ? frame.data : [frame.data], frame.nextOffset);
      else if (frame.type === 'error' && frame.status === 410) h.gone();
      else if (frame.type === 'error' && (frame.status === 401 || frame.status === 403 || frame.status === 404)) {
        h.fatal(new TetherError(frame.status, frame.code, frame.message));
      }
    };
    socket.onclose = (event) => {
      if (attempt.aborted) return;
      if (event.code === 4410) h.gone();
      else if (event.code === 4404) h.fatal(new TetherError(404, 'session_not_found', 'no such session'));
      else if (event.code === 4401) h.fatal(new TetherError(401, 'token_expired', 'the token expired'));
      else h.ended(event.code === 1012 ? 'moved' : `socket closed (${event.code})`);
    };
  }

  openSse(attempt, from, h) {
    const controller = new AbortController();
    attempt.abort = () => controller.abort();
    (async () => {
      const response = await this.fetch(this.streamUrl(from, 'sse'), {
        headers: { ...this.headers(), Accept: 'text/event-stream' }, signal: controller.signal,
      });
      if (!(await this.checkStatus(response, h))) return;
      let pending = [];
      const parser = new SseParser((type, data) => {
        h.opened();
        h.alive();
        if (type === 'data') {
          pending = JSON.parse(data);
        } else if (type === 'control') {
          const control = JSON.parse(data);
          h.batch(pending, control.streamNextOffset);
          pending = [];
        }
      }, () => h.alive());
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        h.alive();
        parser.feed(decoder.decode(value, { stream: true }));
      }
      h.ended('moved');
    })().catch((error) => {
      if (!attempt.aborted) h.ended(error.message);
    });
  }

  openLongPoll(attempt, from, h) {
    const controller = new AbortController();
    attempt.abort = () => controller.abort();
    (async () => {
      let offset = from;
      let cursor = null;
      for (;;) {
        const url = this.streamUrl(offset, 'long-poll') + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : '');
        const response = await this.fetch(url, { headers: this.headers(), signal: controller.signal });
        if (!(await this.checkStatus(response, h))) return;
        h.opened();
        h.alive();
        cursor = response.headers.get('Stream-Cursor') ?? cursor;
        const next = response.headers.get('Stream-Next-Offset') ?? offset;
        if (response.status === 200) {
          const events = await response.json();
          h.batch(events, next);
        }
        offset = next;
        if (response.headers.get('Stream-Closed') === 'true') return h.ended('stream closed');
      }
    })().catch((error) => {
      if (!attempt.aborted) h.ended(error.message);
    });
  }

  /** Maps a refused HTTP answer to gone / fatal / retry; true when the response is usable. */
  async checkStatus(response, h) {
    if (response.ok) return true;
    const body = await response.json().catch(() => ({}));
    if (response.status === 410) h.gone();
    else if ([400, 401, 403, 404].includes(response.status)) {
      h.fatal(new TetherError(response.status, body?.error?.code ?? 'error', body?.error?.message ?? 'refused'));
    } else h.ended(`HTTP ${response.status}`);
    return false;
  }
}
