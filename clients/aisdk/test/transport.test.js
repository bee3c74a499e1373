// The transport driven by the AI SDK's own Chat (the state behind useChat) against a running Tether
// node: TETHER_NODES (comma-separated base URLs; scripts/browser-tests.sh starts a cluster and sets it).
// Every test compares what the chat holds with the server's snapshot of the session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Chat } from '@ai-sdk/react';
import { lastAssistantMessageIsCompleteWithApprovalResponses } from 'ai';
import { TetherChatTransport, snapshotToUIMessages, assistantMessageId } from '../src/index.js';

const NODES = (process.env.TETHER_NODES ?? 'http://127.0.0.1:24081').split(',');
const DEADLINE = 60_000;
// Node 20 has no WebSocket: read over SSE (the browser tests cover WebSocket).
const sessionOptions = { transports: ['sse', 'long-poll'] };

async function until(condition, what, ms = DEADLINE) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await condition().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function newSession(base = NODES[0]) {
  const response = await fetch(`${base}/v1/sessions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ device: 'node-test' }),
  });
  assert.equal(response.status, 201);
  return response.json();
}

async function snapshot(session, base = NODES[0]) {
  const response = await fetch(`${base}/v1/sessions/${session.sessionId}`, { headers: { Authorization: `Bearer ${session.token}` } });
  return response.json();
}

function chatFor(session, { base = NODES[0], messages } = {}) {
  const transport = new TetherChatTransport({ baseUrl: base, token: session.token, sessionOptions });
  const chat = new Chat({
    id: session.sessionId, transport, messages,
    sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
  });
  return { chat, transport };
}

const textOf = (message) => message?.parts.filter((p) => p.type === 'text').map((p) => p.text).join('') ?? '';
const serverAnswer = (snap, turn = snap.turn) => snap.messages.filter((m) => m.role === 'assistant' && m.turn === turn).map((m) => m.text).join('');

test('a message is answered in the chat exactly as the server recorded it', async () => {
  const session = await newSession();
  const { chat } = chatFor(session);
  await chat.sendMessage({ text: 'Tell me about durable streams' });
  assert.equal(chat.status, 'ready');
  const snap = await snapshot(session);
  assert.equal(snap.generation.state, 'completed');
  assert.equal(chat.messages.length, 2);
  assert.equal(chat.messages[1].id, assistantMessageId(1));
  assert.ok(serverAnswer(snap).length > 100, 'a full simulated answer');
  assert.equal(textOf(chat.messages[1]), serverAnswer(snap));
  // The user message kept its UI id on the server: a retry of it would append nothing.
  assert.equal(snap.messages[0].id, chat.messages[0].id);
  assert.deepEqual(snapshotToUIMessages(snap).map((m) => [m.id, textOf(m)]), chat.messages.map((m) => [m.id, textOf(m)]));
});

test('a tool call waits for approval, and approving it continues the same answer', async () => {
  const session = await newSession();
  const { chat } = chatFor(session);
  await chat.sendMessage({ text: 'What is the weather in Lisbon?' });
  assert.equal(chat.status, 'ready', 'the stream ends while the tool waits for a person');
  const tool = chat.messages[1].parts.find((p) => p.type === 'dynamic-tool');
  assert.equal(tool.state, 'approval-requested');
  assert.equal(tool.toolName, 'get_weather');
  assert.deepEqual(tool.input, { city: 'Lisbon' });
  await chat.addToolApprovalResponse({ id: tool.approval.id, approved: true });
  await until(async () => chat.status === 'ready' && (await snapshot(session)).generation.state === 'completed'
    && chat.messages[1].parts.some((p) => p.type === 'dynamic-tool' && p.state === 'output-available'), 'the approved answer');
  await until(async () => chat.status === 'ready', 'the chat to settle');
  const snap = await snapshot(session);
  assert.equal(chat.messages.length, 2, 'one assistant message for the turn');
  assert.equal(textOf(chat.messages[1]), serverAnswer(snap));
  assert.deepEqual(chat.messages[1].parts.find((p) => p.type === 'dynamic-tool').output, JSON.parse(snap.tools[0].result));
});

test('stop ends the generation on the server, and the chat keeps the text it had', async () => {
  const session = await newSession();
  const { chat } = chatFor(session);
  const sending = chat.sendMessage({ text: '/think 0 a long answer please' });
  await until(async () => textOf(chat.messages[1]).length > 20, 'some text');
  await chat.stop();
  await sending;
  const snap = await until(async () => {
    const s = await snapshot(session);
    return s.generation.state === 'stopped' && s;
  }, 'the server to stop');
  assert.ok(serverAnswer(snap).startsWith(textOf(chat.messages[1])), 'what the chat shows is what the server kept');
  assert.equal(chat.status, 'ready');
});

test('a chat opened mid-answer (a reload) resumes it: the final text equals the server\'s, nothing repeated', async () => {
  const session = await newSession();
  const first = chatFor(session);
  const sending = first.chat.sendMessage({ text: 'Explain offsets' });
  await until(async () => textOf(first.chat.messages[1]).length > 30, 'part of the answer');
  // The "reloaded page": messages from the snapshot (a partial answer), then resume.
  const transport = new TetherChatTransport({ baseUrl: NODES[NODES.length - 1], token: session.token, sessionOptions });
  const messages = await transport.loadMessages(session.sessionId);
  assert.equal(messages.length, 2);
  const partial = textOf(messages[1]);
  assert.ok(partial.length > 0);
  const reloaded = new Chat({ id: session.sessionId, transport, messages });
  await reloaded.resumeStream();
  await sending;
  const snap = await snapshot(session);
  assert.equal(snap.generation.state, 'completed');
  assert.equal(reloaded.messages.length, 2);
  assert.equal(textOf(reloaded.messages[1]), serverAnswer(snap));
  assert.ok(textOf(reloaded.messages[1]).startsWith(partial));
  // Nothing to resume once the answer is complete.
  assert.equal(await transport.reconnectToStream({ chatId: session.sessionId }), null);
});

test('a second device is told about turns it did not start, and follows them', async () => {
  const session = await newSession();
  const phone = chatFor(session, { base: NODES[NODES.length - 1] });
  const seen = [];
  let following;
  const unwatch = await phone.transport.watch(session.sessionId, (event) => {
    seen.push(event.type);
    following = (async () => {
      phone.chat.messages = await phone.transport.loadMessages(session.sessionId);
      await phone.chat.resumeStream();
    })();
  });
  try {
    const laptop = chatFor(session);
    await laptop.chat.sendMessage({ text: 'Hello from the laptop' });
    await until(async () => seen.length > 0, 'the phone to notice');
    await following;
    assert.deepEqual(seen, ['user.message']);
    assert.deepEqual(phone.chat.messages.map((m) => [m.id, textOf(m)]), laptop.chat.messages.map((m) => [m.id, textOf(m)]));
    // The phone's own message is not reported back to it.
    await phone.chat.sendMessage({ text: 'And hello from the phone' });
    assert.deepEqual(seen, ['user.message']);
  } finally {
    unwatch();
  }
});

test('regenerating is refused with a clear error, and a bad token is a refusal, not a hang', async () => {
  const session = await newSession();
  const { chat } = chatFor(session);
  await chat.sendMessage({ text: 'One answer' });
  await chat.regenerate();
  assert.equal(chat.status, 'error');
  assert.match(chat.error.message, /new message instead of regenerating/);
  const stranger = chatFor({ ...session, token: 'not-a-token' });
  await stranger.chat.sendMessage({ text: 'let me in' });
  assert.equal(stranger.chat.status, 'error');
  assert.equal(stranger.chat.error.status, 401);
});
