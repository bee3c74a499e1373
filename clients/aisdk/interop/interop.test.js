// The Durable Streams project's AI SDK transport, unchanged, against a Tether node (TETHER_NODES):
// an app server writes an answer's UI message chunks into a Tether stream with toDurableStreamResponse,
// and the browser side (createDurableChatTransport) reads it, also after a reconnect mid-answer.
// The "app server" is in-process: the transport's fetchClient answers its API routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readUIMessageStream } from 'ai';
import { createDurableChatTransport, toDurableStreamResponse } from '@durable-streams/aisdk-transport';

const NODE = (process.env.TETHER_NODES ?? 'http://127.0.0.1:24081').split(',')[0];
const WORDS = Array.from({ length: 40 }, (_, i) => `word${i} `);

/** The answer as a model would stream it: UI message chunks, one word every 20 ms. */
async function* answer(messageId) {
  yield { type: 'start', messageId };
  yield { type: 'start-step' };
  yield { type: 'text-start', id: 't1' };
  for (const word of WORDS) {
    await new Promise((r) => setTimeout(r, 20));
    yield { type: 'text-delta', id: 't1', delta: word };
  }
  yield { type: 'text-end', id: 't1' };
  yield { type: 'finish-step' };
  yield { type: 'finish', finishReason: 'stop' };
}

/** The app's API: POST /api/chat starts an answer in a Tether stream; GET /api/chat/:id/stream points at it. */
function appServer() {
  const active = new Map();
  return async (url, init = {}) => {
    const path = new URL(url, 'http://app').pathname;
    if (init.method === 'POST' && path === '/api/chat') {
      const { id } = JSON.parse(init.body);
      const streamUrl = `${NODE}/v1/stream/chats/${id}/${randomUUID()}`;
      active.set(id, streamUrl);
      return toDurableStreamResponse({ source: answer(`a-${id}`), stream: { writeUrl: streamUrl } });
    }
    const match = /^\/api\/chat\/([^/]+)\/stream$/.exec(path);
    if (match && active.has(match[1])) return Response.json({ streamUrl: active.get(match[1]) });
    return new Response(null, { status: 204 });
  };
}

async function textOf(stream) {
  let last;
  for await (const message of readUIMessageStream({ stream })) last = message;
  return last.parts.filter((p) => p.type === 'text').map((p) => p.text).join('');
}

const userMessage = { id: 'u1', role: 'user', parts: [{ type: 'text', text: 'hello' }] };

test('an answer written by toDurableStreamResponse is read whole by createDurableChatTransport', async () => {
  const transport = createDurableChatTransport({ api: 'http://app/api/chat', fetchClient: appServer() });
  const stream = await transport.sendMessages({
    trigger: 'submit-message', chatId: randomUUID(), messageId: undefined, messages: [userMessage], abortSignal: undefined,
  });
  assert.equal(await textOf(stream), WORDS.join(''));
});

test('reconnectToStream mid-answer replays it from the start and follows it to the end', async () => {
  const fetchClient = appServer();
  const transport = createDurableChatTransport({ api: 'http://app/api/chat', fetchClient });
  const chatId = randomUUID();
  const first = await transport.sendMessages({
    trigger: 'submit-message', chatId, messageId: undefined, messages: [userMessage], abortSignal: undefined,
  });
  // The first reader goes away after a few chunks (a reload); a second one reconnects.
  const reader = first.getReader();
  for (let i = 0; i < 8; i++) await reader.read();
  await reader.cancel();
  const again = await transport.reconnectToStream({ chatId });
  assert.ok(again, 'an answer to reconnect to');
  assert.equal(await textOf(again), WORDS.join(''));
  // What Tether stored: every chunk once, in order, then the stream closed.
  const stored = await fetch(`${(await (await fetchClient(`http://app/api/chat/${chatId}/stream`)).json()).streamUrl}?offset=-1`);
  assert.equal(stored.status, 200);
  assert.equal(stored.headers.get('stream-closed'), 'true');
  const chunks = await stored.json();
  assert.equal(chunks.filter((c) => c.type === 'text-delta').map((c) => c.delta).join(''), WORDS.join(''));
});
