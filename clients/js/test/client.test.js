import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TetherSession, SseParser, backoffDelay, compareOffsets } from '../src/index.js';

const off = (i) => `${String(i).padStart(16, '0')}_${String(i * 10).padStart(16, '0')}`;

/** A WebSocket stand-in the test drives by hand. */
class FakeSocket {
  static made = [];
  constructor(url) {
    this.url = url;
    this.closedWith = null;
    FakeSocket.made.push(this);
  }
  close(code) {
    this.closedWith = code;
  }
  open() {
    this.onopen?.();
    this.frame({ type: 'control', nextOffset: '-1', upToDate: true });
  }
  frame(object) {
    this.onmessage?.({ data: JSON.stringify(object) });
  }
  drop(code = 1006) {
    this.onclose?.({ code });
  }
}

function memoryStorage() {
  const map = new Map();
  return { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => map.set(k, v), map };
}

function session(extra = {}) {
  FakeSocket.made = [];
  return new TetherSession({
    baseUrl: 'http://tether.test', sessionId: 'S1', token: 'T1', device: 'laptop', storage: memoryStorage(),
    WebSocket: FakeSocket, random: () => 0, backoff: { initialMs: 1, maxMs: 5 }, heartbeatTimeoutMs: 1_000,
    fetch: async () => { throw new Error('no network in this test'); },
    ...extra,
  });
}

const until = async (condition, ms = 2_000) => {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
};

test('offsets compare as positions, -1 first', () => {
  assert.equal(compareOffsets('-1', off(0)), -1);
  assert.equal(compareOffsets(off(2), off(10)), -1);
  assert.equal(compareOffsets(off(3), off(3)), 0);
});

test('backoff grows exponentially, is capped, and is jittered below the ceiling', () => {
  assert.equal(backoffDelay(0, { initialMs: 100, maxMs: 1_000 }, () => 1), 100);
  assert.equal(backoffDelay(3, { initialMs: 100, maxMs: 1_000 }, () => 1), 800);
  assert.equal(backoffDelay(9, { initialMs: 100, maxMs: 1_000 }, () => 1), 1_000);
  assert.equal(backoffDelay(9, { initialMs: 100, maxMs: 1_000 }, () => 0.25), 250);
});

test('the SSE parser handles split chunks, comments and multi-line data', () => {
  const seen = [];
  let comments = 0;
  const parser = new SseParser((type, data) => seen.push([type, data]), () => comments++);
  parser.feed('event: da');
  parser.feed('ta\ndata: [1,\ndata: 2]\n\n: heartbeat\n\nevent: control\r\ndata:{"x":1}\r\n\r\n');
  assert.deepEqual(seen, [['data', '[1,\n2]'], ['control', '{"x":1}']]);
  assert.equal(comments, 1);
});

test('events arrive once across a reconnect that replays from the last offset', async () => {
  const s = session();
  const events = [];
  s.on('event', (e) => events.push(e.n));
  s.connect();
  const first = FakeSocket.made[0];
  assert.match(first.url, /^ws:\/\/tether\.test\/v1\/stream\/sessions\/S1\?offset=-1&live=ws&device=laptop&token=T1$/);
  first.open();
  first.frame({ type: 'data', offset: off(0), nextOffset: off(1), data: [{ type: 'x', n: 1 }] });
  first.frame({ type: 'data', offset: off(1), nextOffset: off(2), data: [{ type: 'x', n: 2 }] });
  first.drop();
  await until(() => FakeSocket.made.length === 2);
  const second = FakeSocket.made[1];
  assert.match(second.url, new RegExp(`offset=${off(2)}`));
  second.open();
  // A server may repeat what the client already has; the client drops it by offset.
  second.frame({ type: 'data', offset: off(1), nextOffset: off(2), data: [{ type: 'x', n: 2 }] });
  second.frame({ type: 'data', offset: off(2), nextOffset: off(3), data: [{ type: 'x', n: 3 }] });
  assert.deepEqual(events, [1, 2, 3]);
  assert.equal(s.state.status, 'open');
  assert.equal(s.state.resumedFrom, off(2));
  s.close();
});

test('the offset is kept in storage, so a new client (a reload) resumes from it', () => {
  const storage = memoryStorage();
  const a = session({ storage });
  a.connect();
  FakeSocket.made[0].open();
  FakeSocket.made[0].frame({ type: 'data', nextOffset: off(5), data: [{ type: 'x' }] });
  a.close();
  const b = session({ storage });
  assert.equal(b.offset, off(5));
  b.connect();
  assert.match(FakeSocket.made[0].url, new RegExp(`offset=${off(5)}`));
  b.close();
});

test('a WebSocket that never opens falls back to SSE, and SSE to long-poll', async () => {
  const urls = [];
  const s = session({
    failuresBeforeFallback: 2,
    fetch: async (url) => {
      urls.push(url);
      // The server answers plain HTTP: the transports themselves are blocked.
      if (url.endsWith('/health/live')) return new Response('{}', { status: 200 });
      return new Response('refused', { status: 502 });
    },
  });
  const transports = [];
  s.on('state', (st) => transports.push(st.transport));
  s.connect();
  FakeSocket.made[0].drop();
  await until(() => FakeSocket.made.length === 2);
  FakeSocket.made[1].drop();
  await until(() => urls.some((u) => u.includes('live=long-poll')));
  assert.ok(transports.includes('sse'));
  assert.equal(urls.filter((u) => u.includes('live=sse')).length, 2);
  assert.equal(s.state.transport, 'long-poll');
  s.close();
});

test('SSE batches are delivered when their control event names the next offset', async () => {
  const body = new ReadableStream({
    start(controller) {
      const enc = new TextEncoder();
      controller.enqueue(enc.encode('event: data\ndata: [{"type":"a"},{"type":"b"}]\n\n'));
      controller.enqueue(enc.encode(`event: control\ndata: {"streamNextOffset":"${off(2)}","upToDate":true}\n\n: hb\n\n`));
    },
  });
  let requested;
  const s = session({
    transports: ['sse'],
    fetch: async (url, init) => {
      requested = { url, init };
      return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
    },
  });
  const events = [];
  s.on('event', (e) => events.push(e.type));
  s.connect();
  await until(() => events.length === 2);
  assert.deepEqual(events, ['a', 'b']);
  assert.equal(s.offset, off(2));
  assert.equal(requested.init.headers.Authorization, 'Bearer T1');
  assert.equal(s.state.transport, 'sse');
  s.close();
});

test('silence longer than the heartbeat timeout ends the connection and reconnects', async () => {
  const s = session({ heartbeatTimeoutMs: 30 });
  const statuses = [];
  s.on('state', (st) => statuses.push(st.status));
  s.connect();
  FakeSocket.made[0].open();
  await until(() => FakeSocket.made.length === 2);
  assert.equal(FakeSocket.made[0].closedWith, 1000);
  assert.ok(statuses.includes('reconnecting'));
  s.close();
});

test('an offset that left the ring continues from the snapshot', async () => {
  const s = session({
    fetch: async (url) => {
      assert.equal(url, 'http://tether.test/v1/sessions/S1');
      return new Response(JSON.stringify({ offset: off(40), messages: [] }), { status: 200 });
    },
  });
  const snapshots = [];
  s.on('snapshot', (snap) => snapshots.push(snap));
  s.connect();
  FakeSocket.made[0].drop(4410);
  await until(() => FakeSocket.made.length === 2);
  assert.equal(snapshots.length, 1);
  assert.match(FakeSocket.made[1].url, new RegExp(`offset=${off(40)}`));
  s.close();
});

test('a refused token stops the client with an error instead of retrying', async () => {
  const s = session({
    transports: ['sse'],
    fetch: async () => new Response(JSON.stringify({ error: { code: 'invalid_token', message: 'expired' } }), { status: 401 }),
  });
  const errors = [];
  s.on('error', (e) => errors.push(e));
  s.connect();
  await until(() => errors.length === 1);
  assert.equal(errors[0].code, 'invalid_token');
  assert.equal(s.state.status, 'closed');
});

test('a socket closed because its token expired stops the client with token_expired', async () => {
  const s = session();
  const errors = [];
  s.on('error', (e) => errors.push(e));
  s.connect();
  FakeSocket.made[0].open();
  FakeSocket.made[0].drop(4401);
  await until(() => errors.length === 1);
  assert.equal(errors[0].code, 'token_expired');
  assert.equal(errors[0].status, 401);
  assert.equal(FakeSocket.made.length, 1);
  s.close();
});

test('a refused token is an error the app can answer with a new token: the client resumes from its offset', async () => {
  const s = session();
  const errors = [];
  const events = [];
  s.on('error', (e) => errors.push(e));
  s.on('event', (e) => events.push(e.n));
  s.connect();
  FakeSocket.made[0].open();
  FakeSocket.made[0].frame({ type: 'data', offset: off(0), nextOffset: off(1), data: [{ type: 'x', n: 1 }] });
  FakeSocket.made[0].drop(4401);
  await until(() => errors.length === 1);
  assert.equal(s.state.status, 'closed');
  s.setToken('T2');
  await until(() => FakeSocket.made.length === 2);
  assert.match(FakeSocket.made[1].url, new RegExp(`offset=${off(1)}`));
  assert.match(FakeSocket.made[1].url, /token=T2/);
  FakeSocket.made[1].open();
  assert.equal(s.state.status, 'open');
  assert.deepEqual(events, [1]);
  s.close();
});

test('with renewToken the client fetches a new token itself and goes on, without an error', async () => {
  const asked = [];
  const s = session({ renewToken: async (error) => { asked.push(error.code); return 'T2'; } });
  const errors = [];
  s.on('error', (e) => errors.push(e));
  s.connect();
  FakeSocket.made[0].open();
  FakeSocket.made[0].drop(4401);
  await until(() => FakeSocket.made.length === 2);
  assert.deepEqual(asked, ['token_expired']);
  assert.match(FakeSocket.made[1].url, /token=T2/);
  FakeSocket.made[1].open();
  assert.equal(s.state.status, 'open');
  assert.equal(errors.length, 0);
  s.close();
});

test('renewToken that has no token leaves the refusal to the app; a command is retried once with a renewed token', async () => {
  const s = session({ renewToken: async () => null });
  const errors = [];
  s.on('error', (e) => errors.push(e));
  s.connect();
  FakeSocket.made[0].open();
  FakeSocket.made[0].drop(4401);
  await until(() => errors.length === 1);
  assert.equal(errors[0].status, 401);

  const auth = [];
  const c = session({
    renewToken: async () => 'T2',
    fetch: async (url, init) => {
      auth.push(init.headers.Authorization);
      return init.headers.Authorization === 'Bearer T1'
        ? new Response(JSON.stringify({ error: { code: 'token_expired', message: 'expired' } }), { status: 401 })
        : new Response(JSON.stringify({ messageId: 'm1', turn: 1 }), { status: 200 });
    },
  });
  assert.deepEqual(await c.send('hi', { messageId: 'm1' }), { messageId: 'm1', turn: 1 });
  assert.deepEqual(auth, ['Bearer T1', 'Bearer T2']);
});

test('commands are POSTed with the token, and refusals become TetherErrors', async () => {
  const calls = [];
  const s = session({
    fetch: async (url, init) => {
      calls.push({ url, init });
      return url.endsWith('/stop')
        ? new Response(JSON.stringify({ error: { code: 'not_generating', message: 'nothing to stop' } }), { status: 409 })
        : new Response(JSON.stringify({ messageId: 'm1', turn: 1 }), { status: 200 });
    },
  });
  assert.deepEqual(await s.send('hi', { messageId: 'm1' }), { messageId: 'm1', turn: 1 });
  assert.equal(calls[0].url, 'http://tether.test/v1/sessions/S1/messages');
  assert.equal(calls[0].init.headers.Authorization, 'Bearer T1');
  assert.deepEqual(JSON.parse(calls[0].init.body), { text: 'hi', messageId: 'm1' });
  await assert.rejects(s.stop(), (e) => e.code === 'not_generating' && e.status === 409);
  await s.approve('call 1');
  assert.equal(calls[2].url, 'http://tether.test/v1/sessions/S1/tools/call%201/approve');
});

test('a socket accepted and cut before its first frame counts as a failure, so the client falls back', async () => {
  const urls = [];
  const s = session({
    fetch: async (url) => {
      urls.push(url);
      if (url.endsWith('/health/live')) return new Response('{}', { status: 200 });
      return new Response('no', { status: 502 });
    },
  });
  s.connect();
  for (let i = 0; i < 2; i++) {
    await until(() => FakeSocket.made.length === i + 1);
    FakeSocket.made[i].onopen?.();
    FakeSocket.made[i].drop(1006);
  }
  await until(() => urls.some((u) => u.includes('live=sse')));
  assert.equal(s.state.transport, 'sse');
  s.close();
});

test('a server that does not answer at all (node down) is not a blocked transport: the client stays on WebSocket', async () => {
  const urls = [];
  const s = session({
    fetch: async (url) => {
      urls.push(url);
      throw new TypeError('fetch failed: connection refused');
    },
  });
  s.connect();
  for (let i = 0; i < 5; i++) {
    await until(() => FakeSocket.made.length === i + 1);
    FakeSocket.made[i].drop(1006);
  }
  await until(() => FakeSocket.made.length === 6);
  assert.equal(s.state.transport, 'websocket');
  assert.ok(urls.every((u) => u.endsWith('/health/live')), `only reachability checks, no fallback: ${urls}`);
  // The node is back: the WebSocket opens and the client is live on it.
  FakeSocket.made[5].open();
  await until(() => s.state.status === 'open');
  assert.equal(s.state.transport, 'websocket');
  s.close();
});

test('on a fallback transport the client tries WebSocket again later and stays on it once it works', async () => {
  const encoder = new TextEncoder();
  const s = session({
    transports: ['websocket', 'sse'],
    upgradeAfterMs: 30,
    fetch: async (url, init) => {
      if (url.endsWith('/health/live')) return new Response('{}', { status: 200 });
      // An SSE stream that stays open after its first control event, until the client aborts it.
      const body = new ReadableStream({
        start(controller) {
          controller.enqueue(encoder.encode(`event: control\ndata:{"streamNextOffset":"${off(1)}"}\n\n`));
          init?.signal?.addEventListener('abort', () => controller.error(new Error('aborted')));
        },
      });
      return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
    },
  });
  s.connect();
  for (let i = 0; i < 2; i++) {
    await until(() => FakeSocket.made.length === i + 1);
    FakeSocket.made[i].drop(1006);
  }
  await until(() => s.state.transport === 'sse' && s.state.status === 'open');
  // After upgradeAfterMs on SSE, a new WebSocket is tried from the offset reached; it works.
  await until(() => FakeSocket.made.length === 3);
  assert.ok(FakeSocket.made[2].url.includes(`offset=${off(1)}`), FakeSocket.made[2].url);
  FakeSocket.made[2].open();
  await until(() => s.state.transport === 'websocket' && s.state.status === 'open');
  s.close();
});
