// The demo chat: one session, followed with the Tether client, rendered from its events.
import { TetherSession } from '/client/index.js';

const $ = (id) => document.getElementById(id);
const TRANSPORT_NAMES = { websocket: 'WebSocket', sse: 'SSE', 'long-poll': 'long-poll' };

/** What the page shows, folded from the session's events (the same fold as the server's snapshot). */
const view = { messages: [], tools: new Map(), devices: [], generation: 'idle', lastOffset: null };

const STORE = 'tether-demo';
const stored = (key) => JSON.parse(localStorage.getItem(`${STORE}:${key}`) ?? 'null');
const store = (key, value) => localStorage.setItem(`${STORE}:${key}`, JSON.stringify(value));
/** Messages typed while an answer runs, sent one by one once it ends: {text, messageId}. */
const queue = [];
let sending = false;
let client = null;

/**
 * The page's session: `#s=<id>` in the URL, its token in this browser's storage (never in the URL it
 * shows, which users copy). A link from "Open on another device" carries a token once (`#s&t&d`): it is
 * moved to storage and removed from the address bar.
 */
async function credentials() {
  const params = new URLSearchParams(location.hash.slice(1));
  const sessionId = params.get('s');
  if (sessionId && params.get('t')) {
    store(`session:${sessionId}`, { token: params.get('t'), device: params.get('d') });
    history.replaceState(null, '', `#s=${sessionId}`);
  }
  if (sessionId) {
    const saved = stored(`session:${sessionId}`);
    return saved ? { sessionId, ...saved } : { sessionId, missing: true };
  }
  const device = stored('device') ?? `browser-${Math.random().toString(36).slice(2, 7)}`;
  const response = await fetch('/v1/sessions', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ device }),
  });
  if (!response.ok) {
    return { failed: `This node refused a new chat (${response.status}); it may require an API key.` };
  }
  const created = await response.json();
  store(`session:${created.sessionId}`, { token: created.token, device });
  history.replaceState(null, '', `#s=${created.sessionId}`);
  return { sessionId: created.sessionId, token: created.token, device };
}

function newChat() {
  location.hash = '';
  location.reload();
}

/** A link to a chat this page cannot open (cluster restarted, token expired, link without access). */
function stale(reason) {
  $('stale-reason').textContent = reason;
  $('stale').hidden = false;
  $('badge').textContent = 'not connected';
  $('badge').className = 'badge closed';
  $('badge').dataset.status = 'stale';
  $('prompt').disabled = true;
  $('send').disabled = true;
  client?.close();
}

function staleReason(error) {
  if (error.status === 404) return 'This chat no longer exists: the cluster that held it was restarted (streams live in memory only).';
  if (error.status === 401) return 'This link\'s access has expired or is no longer valid.';
  if (error.status === 403) return 'This link does not give access to this chat.';
  return null;
}

async function start() {
  $('new-chat').addEventListener('click', newChat);
  $('stale-new').addEventListener('click', newChat);
  const { sessionId, token, device, missing, failed } = await credentials();
  if (failed) return stale(failed);
  if (missing) return stale('This browser has no access to this chat: open it from an "Open on another device" link.');
  client = new TetherSession({ baseUrl: location.origin, sessionId, token, device: device ?? undefined });
  window.tether = { client, view, sessionId };
  $('device-name').textContent = device ?? 'unnamed';

  client.on('state', renderBadge);
  client.on('event', (event) => {
    apply(event);
    schedule();
    if (event.type.startsWith('generation.') && !busy()) pump();
  });
  client.on('snapshot', (snapshot) => {
    load(snapshot);
    schedule();
  });
  client.on('error', (error) => {
    const reason = staleReason(error);
    if (reason) stale(reason);
    else $('status').textContent = `Stopped: ${error.message}`;
  });

  // Render the conversation as it is now, then follow it from the snapshot's offset.
  let snapshot;
  try {
    snapshot = await client.snapshot();
  } catch (error) {
    return stale(staleReason(error) ?? `This chat cannot be opened: ${error.message}`);
  }
  load(snapshot);
  render();
  client.connect(snapshot.offset ?? '-1');

  $('speed').value = stored('speed') ?? '';
  $('speed').addEventListener('change', (e) => store('speed', e.target.value));
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const typed = $('prompt').value.trim();
    if (!typed) return;
    $('prompt').value = '';
    // The simulated model answers "/speed N" prompts at N words per second.
    const text = $('speed').value ? `/speed ${$('speed').value} ${typed}` : typed;
    queue.push({ text, messageId: `m_${crypto.randomUUID()}` });
    render();
    pump();
  });
  $('stop').addEventListener('click', () => act(() => client.stop()));
  $('offline').addEventListener('change', (e) => (e.target.checked ? client.pause() : client.resume()));
  $('device').addEventListener('click', () => rename(sessionId, device));
  $('share').addEventListener('click', async () => {
    const other = `device-${Math.random().toString(36).slice(2, 6)}`;
    const minted = await act(() => client.tokenFor(other));
    if (!minted) return;
    const link = $('share-link');
    link.href = `${location.pathname}#s=${sessionId}&t=${minted.token}&d=${other}`;
    link.textContent = `open as ${other}`;
    const until = minted.expiresAt ? new Date(minted.expiresAt).toLocaleString() : 'it expires';
    $('share-note').textContent = `Anyone with this link can read and write in this chat until ${until}.`;
    $('share-panel').hidden = false;
  });
  $('messages').addEventListener('click', (e) => {
    if (e.target.closest('#hint button')) {
      store('hint-seen', true);
      render();
      return;
    }
    const button = e.target.closest('button[data-call]');
    if (!button) return;
    const callId = button.dataset.call;
    act(() => (button.dataset.decision === 'approve' ? client.approve(callId) : client.deny(callId, 'denied in the demo')));
  });
}

const busy = () => view.generation === 'running' || view.generation === 'waiting_for_tools';

/**
 * Sends the oldest queued message once no answer runs. A refusal because an answer started meanwhile
 * (another device) keeps it queued until that answer ends; its messageId makes a resend safe.
 */
async function pump() {
  if (sending || busy() || queue.length === 0) return;
  sending = true;
  const next = queue[0];
  try {
    await client.send(next.text, { messageId: next.messageId });
    queue.shift();
    $('status').textContent = '';
  } catch (error) {
    if (error.code !== 'generation_in_progress') {
      queue.shift();
      $('status').textContent = `Not sent: ${error.message}`;
    } else if (!busy()) {
      // The page has not seen that answer's events yet, or saw it end while this send was out (the
      // end's own pump found it sending): try again shortly rather than wait for an event that came.
      setTimeout(pump, 500);
    }
  } finally {
    sending = false;
    render();
  }
}

/** A new name for this device: a token that carries it, then a reload (which resumes from the stored offset). */
async function rename(sessionId, current) {
  const name = prompt('Name this device (letters, digits, . _ -)', current ?? '')?.trim();
  if (!name || name === current) return;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) {
    $('status').textContent = 'A device name is 1-64 letters, digits, ".", "_" or "-".';
    return;
  }
  const minted = await act(() => client.tokenFor(name));
  if (!minted) return;
  store(`session:${sessionId}`, { token: minted.token, device: name });
  store('device', name);
  location.reload();
}

async function act(command) {
  try {
    $('status').textContent = '';
    return await command();
  } catch (error) {
    $('status').textContent = error.message;
    return null;
  }
}

// ------------------------------------------------------------------------------ state

function load(snapshot) {
  view.messages = snapshot.messages.map((m) => ({ ...m }));
  view.tools = new Map(snapshot.tools.map((t) => [t.callId, { ...t }]));
  view.devices = [...snapshot.devices];
  view.generation = snapshot.generation.state;
  view.lastOffset = snapshot.offset;
}

function apply(event) {
  const message = (id) => view.messages.find((m) => m.id === id);
  switch (event.type) {
    case 'user.message':
      view.messages.push({ id: event.messageId, role: 'user', text: event.text, device: event.device });
      break;
    case 'generation.started':
    case 'generation.resumed':
      view.generation = 'running';
      break;
    case 'assistant.start':
      view.messages.push({ id: event.messageId, role: 'assistant', text: '', complete: false });
      break;
    case 'assistant.delta': {
      const m = message(event.messageId);
      if (m) m.text += event.text;
      break;
    }
    case 'assistant.end': {
      const m = message(event.messageId);
      if (m) Object.assign(m, { complete: true, finishReason: event.finishReason });
      break;
    }
    case 'tool.requested':
      view.tools.set(event.callId, { callId: event.callId, messageId: event.messageId, name: event.name,
        arguments: event.arguments, state: 'requested' });
      view.generation = 'waiting_for_tools';
      break;
    case 'tool.awaiting_approval':
    case 'tool.approved':
    case 'tool.denied':
    case 'tool.running':
    case 'tool.completed':
    case 'tool.failed': {
      const tool = view.tools.get(event.callId);
      if (tool) {
        tool.state = event.type.slice('tool.'.length);
        if (event.device) tool.decidedBy = event.device;
        if (event.result !== undefined) tool.result = event.result;
      }
      break;
    }
    case 'generation.completed':
    case 'generation.stopped':
    case 'generation.failed':
      view.generation = event.type.slice('generation.'.length);
      for (const m of view.messages) if (m.role === 'assistant') m.complete = true;
      break;
    case 'device.joined':
      if (!view.devices.includes(event.device)) view.devices.push(event.device);
      break;
    case 'device.left':
      view.devices = view.devices.filter((d) => d !== event.device);
      break;
    default:
  }
}

// ------------------------------------------------------------------------------ rendering

let pending = false;
function schedule() {
  if (!pending) {
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      render();
    });
  }
}

function render() {
  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren();
  for (const m of view.messages) {
    const toolsOfMessage = [...view.tools.values()].filter((tool) => tool.messageId === m.id);
    if (m.role === 'assistant' && !m.text && m.complete) {
      // A message that only asked for tools: show the tools, not an empty bubble.
      list.append(...toolsOfMessage.map(toolCard));
      continue;
    }
    const bubble = el('div', `message ${m.role}${m.role === 'assistant' && !m.complete ? ' streaming' : ''}`);
    bubble.dataset.id = m.id;
    bubble.append(el('div', 'text', m.text));
    if (m.role === 'user' && m.device) bubble.append(el('div', 'meta', m.device));
    if (m.finishReason === 'stopped') bubble.append(el('div', 'meta', 'stopped'));
    list.append(bubble, ...toolsOfMessage.map(toolCard));
  }
  for (const queued of queue) {
    if (view.messages.some((m) => m.id === queued.messageId)) continue;
    const bubble = el('div', 'message user queued');
    bubble.dataset.id = queued.messageId;
    bubble.append(el('div', 'text', queued.text), el('div', 'meta', 'queued: sent when the answer ends'));
    list.append(bubble);
  }
  if (!stored('hint-seen')) {
    const hint = el('div', 'hint');
    hint.id = 'hint';
    hint.append(el('span', '', 'Try it: while an answer streams, tick "Simulate network loss" or reload the page, '
      + 'or use "Open on another device": nothing is lost or repeated. "Answer speed" gives you time.'));
    const close = el('button', '', 'Got it');
    close.type = 'button';
    hint.append(close);
    list.prepend(hint);
  }
  if (atBottom) list.scrollTop = list.scrollHeight;
  $('devices').replaceChildren(...view.devices.map((d) => el('li', '', d)));
  $('stop').disabled = !busy();
}

function toolCard(tool) {
  const card = el('div', 'tool');
  card.dataset.state = tool.state;
  card.dataset.call = tool.callId;
  card.append(el('div', '', `Tool ${tool.name} `), el('code', '', tool.arguments ?? ''));
  const state = el('div', 'meta', tool.state.replace('_', ' ') + (tool.decidedBy ? ` by ${tool.decidedBy}` : ''));
  card.append(state);
  if (tool.state === 'awaiting_approval') {
    const actions = el('div', 'actions');
    for (const decision of ['approve', 'deny']) {
      const button = el('button', '', decision === 'approve' ? 'Approve' : 'Deny');
      button.type = 'button';
      button.dataset.call = tool.callId;
      button.dataset.decision = decision;
      actions.append(button);
    }
    card.append(actions);
  }
  return card;
}

function renderBadge(state) {
  const badge = $('badge');
  const name = TRANSPORT_NAMES[state.transport] ?? '';
  const index = state.offset === '-1' ? 0 : Number(state.offset.split('_')[0]);
  let text;
  if (state.status === 'open') {
    text = state.resumedFrom ? `${name} · resumed from offset ${Number(state.resumedFrom.split('_')[0])}` : `${name} · live`;
  } else if (state.status === 'reconnecting') {
    text = `reconnecting${name ? ` (${name})` : ''}${state.attempt ? ` · attempt ${state.attempt}` : ''}`;
  } else if (state.status === 'paused') {
    text = 'offline (simulated)';
  } else {
    text = state.status;
  }
  badge.textContent = text;
  badge.className = `badge ${state.status}`;
  badge.dataset.status = state.status;
  badge.dataset.transport = state.transport ?? '';
  badge.title = `at offset ${index}`;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

start();
