// The demo chat: one session, followed with the Tether client, rendered from its events.
import { TetherSession } from '/client/index.js';

const $ = (id) => document.getElementById(id);
const TRANSPORT_NAMES = { websocket: 'WebSocket', sse: 'SSE', 'long-poll': 'long-poll' };

/** What the page shows, folded from the session's events (the same fold as the server's snapshot). */
const view = { messages: [], tools: new Map(), devices: [], generation: 'idle', lastOffset: null };

async function start() {
  const params = new URLSearchParams(location.hash.slice(1));
  let sessionId = params.get('s');
  let token = params.get('t');
  let device = params.get('d');
  if (!sessionId || !token) {
    device = `browser-${Math.random().toString(36).slice(2, 7)}`;
    const response = await fetch('/v1/sessions', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ device }),
    });
    if (!response.ok) {
      $('status').textContent = `Cannot create a session (${response.status}); this node may require an API key.`;
      return;
    }
    const created = await response.json();
    sessionId = created.sessionId;
    token = created.token;
    history.replaceState(null, '', `#s=${sessionId}&t=${token}&d=${device}`);
  }
  const client = new TetherSession({ baseUrl: location.origin, sessionId, token, device: device ?? undefined });
  window.tether = { client, view, sessionId };

  client.on('state', renderBadge);
  client.on('event', (event) => {
    apply(event);
    schedule();
  });
  client.on('snapshot', (snapshot) => {
    load(snapshot);
    schedule();
  });
  client.on('error', (error) => {
    $('status').textContent = `Stopped: ${error.message}`;
  });

  // Render the conversation as it is now, then follow it from the snapshot's offset.
  const snapshot = await client.snapshot();
  load(snapshot);
  render();
  client.connect(snapshot.offset ?? '-1');

  $('composer').addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = $('prompt').value.trim();
    if (!text) return;
    $('prompt').value = '';
    await act(() => client.send(text, { messageId: `m_${crypto.randomUUID()}` }));
  });
  $('stop').addEventListener('click', () => act(() => client.stop()));
  $('offline').addEventListener('change', (e) => (e.target.checked ? client.pause() : client.resume()));
  $('share').addEventListener('click', async () => {
    const other = `device-${Math.random().toString(36).slice(2, 6)}`;
    const minted = await act(() => client.tokenFor(other));
    if (!minted) return;
    const link = $('share-link');
    link.href = `${location.pathname}#s=${sessionId}&t=${minted.token}&d=${other}`;
    link.textContent = `open as ${other}`;
    link.hidden = false;
  });
  $('messages').addEventListener('click', (e) => {
    const button = e.target.closest('button[data-call]');
    if (!button) return;
    const callId = button.dataset.call;
    act(() => (button.dataset.decision === 'approve' ? client.approve(callId) : client.deny(callId, 'denied in the demo')));
  });
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
  if (atBottom) list.scrollTop = list.scrollHeight;
  $('devices').replaceChildren(...view.devices.map((d) => el('li', '', d)));
  const busy = view.generation === 'running' || view.generation === 'waiting_for_tools';
  $('stop').disabled = !busy;
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
