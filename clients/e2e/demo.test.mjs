// The demo chat in a real browser (Debian's Chromium, driven by playwright-core) against a 3-node
// cluster started by scripts/browser-tests.sh. Every test asserts what the user sees: the rendered
// answer equals the complete generation, with nothing repeated and nothing missing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { NODES, ROOT, SHOTS, launchChromium, until, api } from './support.mjs';

let browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

/** The session the page shows (its token is in the page's storage, not in its URL). */
async function sessionOf(page) {
  return until(() => page.evaluate(() => window.tether
    && { id: window.tether.sessionId, token: window.tether.client.token }), 'the page to open its session');
}

async function snapshot(base, session) {
  return api(base, `/v1/sessions/${session.id}`, session.token);
}

const lastAnswer = (snap) => [...snap.messages].reverse().find((m) => m.role === 'assistant')?.text ?? '';
const renderedAnswer = (page) => page.locator('.message.assistant .text').last().textContent();

async function openDemo(base, hash = '', contextOptions = {}) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('page error:', error.message));
  await page.goto(`${base}/${hash}`);
  await until(async () => (await page.getAttribute('#badge', 'data-status')) === 'open', 'the page to connect');
  return { context, page };
}

async function ask(page, text) {
  await page.fill('#prompt', text);
  await page.click('#send');
}

/** Waits until the session's generation ended and returns its final answer as the server has it. */
async function completed(base, session) {
  return until(async () => {
    const snap = await snapshot(base, session);
    return snap.generation.state === 'completed' ? lastAnswer(snap) : null;
  }, 'the answer to complete');
}

function cluster(...args) {
  return execFileSync(`${ROOT}scripts/cluster.sh`, args, { env: process.env, encoding: 'utf8' });
}

test('an answer cut by a network loss is rendered complete, with no repeated text, once back online', async () => {
  const { context, page } = await openDemo(NODES[0]);
  const session = await sessionOf(page);
  await ask(page, 'Tell me everything about durable sessions');
  await until(async () => (await renderedAnswer(page))?.length > 20, 'the answer to start');
  await context.setOffline(true);
  // While the page is offline, the server keeps generating. A frame that was already on its way into the
  // page when it went offline may still render, so the cut is taken once the server has moved on.
  const wentOffline = (await renderedAnswer(page)).length;
  await until(async () => lastAnswer(await snapshot(NODES[0], session)).length > wentOffline + 40, 'generation to go on');
  const cutAt = (await renderedAnswer(page)).length;
  const serverAtCut = lastAnswer(await snapshot(NODES[0], session)).length;
  await until(async () => lastAnswer(await snapshot(NODES[0], session)).length > serverAtCut + 40, 'generation to go on');
  assert.equal((await renderedAnswer(page)).length, cutAt, 'nothing reaches an offline page');
  assert.ok(cutAt < serverAtCut, 'the page is behind the server while offline');
  await context.setOffline(false);
  const expected = await completed(NODES[0], session);
  await until(async () => (await renderedAnswer(page)) === expected, 'the page to show the whole answer');
  assert.equal(await page.locator('.message.assistant').count(), 1);
  assert.match(await page.textContent('#badge'), /resumed from offset \d+|live/);
  await context.close();
});

test('a second page opened mid-answer shows the same text, and a tool is approved from it', async () => {
  const first = await openDemo(NODES[0]);
  const session = await sessionOf(first.page);
  await ask(first.page, 'Write a long answer about offsets');
  await until(async () => (await renderedAnswer(first.page))?.length > 20, 'the answer to start');
  await first.page.click('#share');
  const link = await until(async () => first.page.getAttribute('#share-link', 'href'), 'a link for another device');
  const second = await openDemo(NODES[1], link.slice(link.indexOf('#')));
  const expected = await completed(NODES[0], session);
  for (const page of [first.page, second.page]) {
    await until(async () => (await renderedAnswer(page)) === expected, 'both pages to show the whole answer');
  }
  await until(async () => (await second.page.locator('#devices li').count()) === 2, 'both devices listed');

  // The model asks for a tool; the first page waits, the second approves.
  await ask(first.page, 'What is the weather in Lisbon?');
  const approve = second.page.locator('.tool[data-state="awaiting_approval"] button[data-decision="approve"]');
  await until(async () => (await approve.count()) === 1, 'the approval button on the second page');
  await approve.click();
  const answer = await completed(NODES[0], session);
  assert.match(answer, /^The tool answered .*Lisbon/);
  await until(async () => (await renderedAnswer(first.page)) === answer, 'the first page to show the answer');
  await until(async () => (await first.page.locator('.tool[data-state="completed"]').count()) === 1, 'the tool done');
  assert.match(await first.page.textContent('.tool .meta'), /by device-/);
  await first.page.screenshot({ path: `${SHOTS}/demo.png` });
  await first.context.close();
  await second.context.close();
});

test('with WebSocket and then SSE refused, the page completes the answer over long-poll and says so', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.routeWebSocket(/live=ws/, (ws) => ws.close({ code: 1008, reason: 'refused by a proxy' }));
  await page.route(/live=sse/, (route) => route.abort('connectionrefused'));
  await page.goto(`${NODES[2]}/`);
  await until(async () => (await page.getAttribute('#badge', 'data-transport')) === 'long-poll'
    && (await page.getAttribute('#badge', 'data-status')) === 'open', 'the page to fall back to long-poll');
  assert.match(await page.textContent('#badge'), /long-poll/);
  const session = await sessionOf(page);
  await ask(page, 'Answer me over long-poll');
  const expected = await completed(NODES[2], session);
  await until(async () => (await renderedAnswer(page)) === expected, 'the long-poll page to show the answer');
  assert.match(await page.textContent('#badge'), /long-poll/);
  await context.close();
});

test('the owner node is SIGKILLed mid-answer and the page still gets the complete answer', async () => {
  // The session is created through the API, so the page can be opened on a node that does not own it.
  const created = await (await fetch(`${NODES[0]}/v1/sessions`, { method: 'POST', body: '{"device":"kill-test"}' })).json();
  const session = { id: created.sessionId, token: created.token };
  const admin = await (await fetch(`${NODES[0]}/v1/admin/streams/sessions/${session.id}`)).json();
  const owner = Number(admin.owner.nodeId.replace('node-', ''));
  const survivor = owner % 3;
  const { context, page } = await openDemo(NODES[survivor], `#s=${session.id}&t=${session.token}&d=kill-test`);
  await ask(page, 'Keep talking while a node dies');
  await until(async () => (await renderedAnswer(page))?.length > 30, 'the answer to start');
  cluster('kill', String(owner));
  try {
    const expected = await completed(NODES[survivor], session);
    await until(async () => (await renderedAnswer(page)) === expected, 'the page to show the whole answer');
    const events = await api(NODES[survivor], `/v1/stream/sessions/${session.id}?offset=-1`, session.token);
    assert.ok(events.some((e) => e.type === 'generation.resumed' && e.reason === 'owner_changed'));
  } finally {
    cluster('start', String(owner));
  }
  await context.close();
});

test("the page's node is down for 10 s mid-answer: the page is back on WebSocket with the whole answer", async () => {
  // The page is served by a node that does not own the session, so the answer goes on while it is down.
  const created = await (await fetch(`${NODES[0]}/v1/sessions`, { method: 'POST', body: '{"device":"down-test"}' })).json();
  const session = { id: created.sessionId, token: created.token };
  const admin = await (await fetch(`${NODES[0]}/v1/admin/streams/sessions/${session.id}`)).json();
  const owner = Number(admin.owner.nodeId.replace('node-', ''));
  const pageNode = (owner % 3) + 1;
  const base = NODES[pageNode - 1];
  const { context, page } = await openDemo(base, `#s=${session.id}&t=${session.token}&d=down-test`);
  assert.equal(await page.getAttribute('#badge', 'data-transport'), 'websocket');
  await ask(page, 'Keep talking while my node is away');
  await until(async () => (await renderedAnswer(page))?.length > 30, 'the answer to start');
  cluster('stop', String(pageNode));
  try {
    const down = Date.now();
    await until(async () => (await page.getAttribute('#badge', 'data-status')) !== 'open', 'the page to lose its node');
    // The fault itself: the node stays away for 10 s, every connection to it refused.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 10_000 - (Date.now() - down))));
  } finally {
    cluster('start', String(pageNode));
  }
  const expected = await completed(NODES[owner - 1], session);
  await until(async () => (await renderedAnswer(page)) === expected, 'the page to show the whole answer');
  await until(async () => (await page.getAttribute('#badge', 'data-transport')) === 'websocket'
    && (await page.getAttribute('#badge', 'data-status')) === 'open', 'the page to be back on WebSocket');
  assert.equal(await page.locator('.message.assistant').count(), 1);
  await context.close();
});

test('on a 390 x 844 phone the header stays under 120 px, and a message typed during an answer is sent after it', async () => {
  const { context, page } = await openDemo(NODES[1], '', { viewport: { width: 390, height: 844 } });
  const session = await sessionOf(page);
  const top = (await page.locator('#messages').boundingBox()).y;
  assert.ok(top <= 120, `the conversation starts ${top} px from the top`);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'nothing wider than the screen');
  await ask(page, 'First question, with a long answer');
  await until(async () => (await renderedAnswer(page))?.length > 20, 'the first answer to start');
  await ask(page, 'Second question, typed while the first is answered');
  assert.equal(await page.locator('.message.user.queued').count(), 1, 'the second message waits, visibly');
  const snap = await until(async () => {
    const s = await snapshot(NODES[1], session);
    return s.turn === 2 && s.generation.state === 'completed' && s;
  }, 'both questions answered');
  assert.deepEqual(snap.messages.filter((m) => m.role === 'user').map((m) => m.text),
    ['First question, with a long answer', 'Second question, typed while the first is answered']);
  const events = await api(NODES[1], `/v1/stream/sessions/${session.id}?offset=-1`, session.token);
  const types = events.map((e) => `${e.type}:${e.turn ?? ''}`);
  assert.ok(types.indexOf('generation.completed:1') < types.indexOf('user.message:2'), 'sent once the first answer ended');
  await until(async () => (await page.locator('.message.assistant').count()) === 2, 'both answers on the page');
  await until(async () => (await renderedAnswer(page)) === lastAnswer(snap), 'the second answer complete');
  assert.equal(await page.locator('.message.user.queued').count(), 0);
  await page.screenshot({ path: `${SHOTS}/demo-phone.png` });
  await context.close();
});

test('a stale link says what happened and offers a new chat', async () => {
  // A link whose token this cluster does not accept (a restarted cluster, an expired token).
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${NODES[0]}/#s=AAAAAAAAAAAAAAAAAAAAAA&t=not-a-token&d=old-phone`);
  await until(async () => page.isVisible('#stale'), 'the stale-link notice');
  assert.match(await page.textContent('#stale-reason'), /expired|no longer/);
  assert.equal(await page.isDisabled('#prompt'), true);
  assert.ok(!new URL(page.url()).hash.includes('t='), 'the token left the address bar');
  await page.click('#stale-new');
  await until(async () => (await page.getAttribute('#badge', 'data-status')) === 'open', 'a new chat');
  assert.equal(await page.isVisible('#stale'), false);
  // A chat link without its token (copied from the address bar) into another browser: said plainly.
  const { id } = await sessionOf(page);
  const other = await browser.newContext();
  const stranger = await other.newPage();
  await stranger.goto(`${NODES[0]}/#s=${id}`);
  await until(async () => stranger.isVisible('#stale'), 'the no-access notice');
  assert.match(await stranger.textContent('#stale-reason'), /no access/);
  await other.close();
  await context.close();
});

test('first run: a hint, a favicon, the token kept out of the URL, a device name and an answer speed to set', async () => {
  const { context, page } = await openDemo(NODES[2]);
  const session = await sessionOf(page);
  assert.ok(!new URL(page.url()).hash.includes('t='), 'the page URL carries no token');
  assert.equal(new URL(page.url()).hash, `#s=${session.id}`);
  const icon = await fetch(new URL(await page.getAttribute('link[rel=icon]', 'href'), NODES[2]));
  assert.equal(icon.status, 200);
  assert.match(icon.headers.get('content-type'), /image\/svg\+xml/);
  // The hint, until dismissed (for good).
  assert.match(await page.textContent('#hint'), /Simulate network loss/);
  await page.click('#hint button');
  await until(async () => (await page.locator('#hint').count()) === 0, 'the hint to go');
  // The share link says what it grants.
  await page.click('#share');
  await until(async () => page.isVisible('#share-panel'), 'the share panel');
  assert.match(await page.textContent('#share-note'), /Anyone with this link can read and write/);
  // A device name: a token that carries it, then the page reloads and speaks as that device.
  page.once('dialog', (dialog) => dialog.accept('kitchen-tablet'));
  await page.click('#device');
  await until(async () => (await page.textContent('#device-name')) === 'kitchen-tablet', 'the new device name');
  await until(async () => (await page.getAttribute('#badge', 'data-status')) === 'open', 'the page to reconnect');
  assert.equal(await page.locator('#hint').count(), 0, 'a dismissed hint stays dismissed');
  // A slow answer: the simulated model reads the /speed directive.
  await page.selectOption('#speed', '3');
  await ask(page, 'Slowly, please');
  const snap = await until(async () => {
    const s = await snapshot(NODES[2], session);
    return s.turn === 1 && s;
  }, 'the message');
  assert.equal(snap.messages[0].text, '/speed 3 Slowly, please');
  assert.equal(snap.messages[0].device, 'kitchen-tablet');
  await page.click('#stop');
  await context.close();
});
