// The AI SDK example app (clients/aisdk/example: React, useChat, TetherChatTransport), built by
// scripts/browser-tests.sh and served here from its dist/, in Chromium against the test cluster.
// Each test compares what the page shows with the server's snapshot of the session.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { NODES, ROOT, SHOTS, launchChromium, until, api } from './support.mjs';

const DIST = `${ROOT}clients/aisdk/example/dist`;
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
let browser;
let server;
let appUrl;

before(async () => {
  browser = await launchChromium();
  server = createServer(async (request, response) => {
    const path = normalize(new URL(request.url, 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
    try {
      const body = await readFile(join(DIST, path));
      response.writeHead(200, { 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  appUrl = (node) => `http://127.0.0.1:${server.address().port}/?tether=${encodeURIComponent(node)}`;
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function openApp(node, context) {
  context ??= await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('page error:', error.message));
  await page.goto(appUrl(node));
  await until(async () => (await page.textContent('[data-testid=status]')) === 'ready', 'the app to load');
  return { context, page };
}

/** The session the app opened (it keeps it in localStorage). */
async function sessionOf(page) {
  return JSON.parse(await page.evaluate(() => localStorage.getItem('tether-ai-sdk-example:chat')));
}

const snapshot = (session, node = NODES[0]) => api(node, `/v1/sessions/${session.sessionId}`, session.token);
const serverAnswer = (snap) => snap.messages.filter((m) => m.role === 'assistant' && m.turn === snap.turn).map((m) => m.text).join('');
const shownAnswer = async (page) => (await page.locator('li[data-role=assistant]').last().locator('.text').allTextContents()).join('');

async function ask(page, text) {
  await page.fill('[data-testid=input]', text);
  await page.click('[data-testid=send]');
}

/** A new chat on `node` whose first answer has started streaming. */
async function answering(node, text) {
  const { context, page } = await openApp(node);
  const session = await sessionOf(page);
  await ask(page, text);
  await until(async () => (await shownAnswer(page)).length > 20, 'the answer to start streaming');
  return { context, page, session };
}

/** Waits for the turn to end with `state` on the server and returns its snapshot. */
function ended(session, state = 'completed') {
  return until(async () => {
    const snap = await snapshot(session);
    return snap.generation.state === state && snap;
  }, `the answer to be ${state}`);
}

test('an answer streams, and a reload mid-answer resumes it with nothing repeated', async () => {
  const { context, page, session } = await answering(NODES[0], 'Tell me everything about durable sessions');
  await page.reload();
  await until(async () => (await page.locator('li[data-role=assistant]').count()) === 1, 'the answer after the reload');
  const snap = await ended(session);
  const expected = serverAnswer(snap);
  await until(async () => (await shownAnswer(page)) === expected, 'the page to show the whole answer');
  assert.equal(await page.locator('li[data-role=user]').count(), 1);
  assert.equal(await page.locator('li[data-role=assistant]').count(), 1);
  await until(async () => (await page.textContent('[data-testid=status]')) === 'ready', 'the chat to settle');
  await context.close();
});

test('a network loss mid-answer: the page catches up once back online, nothing repeated', async () => {
  const { context, page, session } = await answering(NODES[1], 'Write a long answer about offsets');
  await context.setOffline(true);
  const wentOffline = (await shownAnswer(page)).length;
  await until(async () => serverAnswer(await snapshot(session)).length > wentOffline + 60, 'the server to go on');
  const cutAt = (await shownAnswer(page)).length;
  assert.ok(cutAt < serverAnswer(await snapshot(session)).length, 'the page is behind the server while offline');
  await context.setOffline(false);
  const expected = serverAnswer(await ended(session));
  await until(async () => (await shownAnswer(page)) === expected, 'the page to show the whole answer');
  assert.equal(await page.locator('li[data-role=assistant]').count(), 1);
  await context.close();
});

test('Stop ends the answer on the server, and the page keeps what it had', async () => {
  const { context, page, session } = await answering(NODES[0], 'Another long answer, please');
  await page.click('[data-testid=stop]');
  const snap = await ended(session, 'stopped');
  await until(async () => (await page.textContent('[data-testid=status]')) === 'ready', 'the chat to be ready again');
  const shown = await shownAnswer(page);
  assert.ok(shown.length > 20);
  assert.ok(serverAnswer(snap).startsWith(shown), 'the page shows a prefix of what the server kept');
  assert.ok(serverAnswer(snap).length < 400, 'the answer was cut short');
  await context.close();
});

test('a tool call is approved from a second page; both pages show the finished answer', async () => {
  const first = await openApp(NODES[0]);
  const session = await sessionOf(first.page);
  await ask(first.page, 'What is the weather in Lisbon?');
  await until(async () => (await first.page.locator('[data-testid=approve]').count()) === 1, 'the approval request');
  // A second tab of the same browser opens the same chat (and another node).
  const second = await openApp(NODES[2], first.context);
  const approve = second.page.locator('[data-testid=approve]');
  await until(async () => (await approve.count()) === 1, 'the approval request on the second page');
  await approve.click();
  const snap = await ended(session);
  const expected = serverAnswer(snap);
  assert.match(expected, /^The tool answered .*Lisbon/);
  for (const page of [first.page, second.page]) {
    await until(async () => (await shownAnswer(page)) === expected, 'both pages to show the answer');
    await until(async () => (await page.locator('[data-testid=tool][data-state=output-available]').count()) === 1,
      'the tool result on both pages');
    assert.equal(await page.locator('li[data-role=assistant]').count(), 1);
  }
  await first.page.screenshot({ path: `${SHOTS}/aisdk.png` });
  await first.context.close();
});
