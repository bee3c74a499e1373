import { useEffect, useState } from 'react';
import { useChat } from '@ai-sdk/react';
import { lastAssistantMessageIsCompleteWithApprovalResponses } from 'ai';
import { TetherChatTransport } from '@tether/ai-sdk';

// The Tether node to talk to: ?tether=<url>, else VITE_TETHER_URL at build time, else localhost:8080.
const BASE = new URLSearchParams(location.search).get('tether') ?? import.meta.env.VITE_TETHER_URL ?? 'http://localhost:8080';
const KEY = 'tether-ai-sdk-example:chat';

/**
 * The chat this browser continues, or a new one. A real app gets the session and its token from its
 * own backend, which holds Tether's API key; this example creates one directly, which works when the
 * node has no TETHER_API_KEY (the default for local use).
 */
async function openChat() {
  // Any node of the cluster serves any session: a chat stored by a page that talked to another node
  // continues here. (One from a cluster since restarted is gone: the page says so and offers a new chat.)
  const stored = JSON.parse(localStorage.getItem(KEY) ?? 'null');
  if (stored?.sessionId) return stored;
  const response = await fetch(`${BASE}/v1/sessions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}',
  });
  if (!response.ok) throw new Error(`Tether refused a new chat (${response.status}); does it need an API key?`);
  const { sessionId, token } = await response.json();
  const chat = { sessionId, token };
  localStorage.setItem(KEY, JSON.stringify(chat));
  return chat;
}

function newChat() {
  localStorage.removeItem(KEY);
  location.reload();
}

export function App() {
  const [loaded, setLoaded] = useState(null);
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    (async () => {
      const chat = await openChat();
      const transport = new TetherChatTransport({ baseUrl: BASE, token: chat.token });
      // The conversation so far, as the AI SDK holds it; a running answer is resumed by useChat.
      const messages = await transport.loadMessages(chat.sessionId);
      setLoaded({ chat, transport, messages });
    })().catch((error) => setProblem(error.status === 404 || error.status === 401
      ? 'This chat is no longer available (the cluster was restarted or its token expired).'
      : error.message));
  }, []);
  return (
    <main>
      <header>
        <h1>Tether + AI SDK</h1>
        <button onClick={newChat} data-testid="new-chat">New chat</button>
      </header>
      {problem && <p className="problem" data-testid="problem">{problem}</p>}
      {!problem && !loaded && <p>Loading…</p>}
      {loaded && <Chat {...loaded} />}
    </main>
  );
}

function Chat({ chat, transport, messages: initial }) {
  const { messages, setMessages, sendMessage, status, error, stop, resumeStream, addToolApprovalResponse } = useChat({
    id: chat.sessionId,
    transport,
    messages: initial,
    resume: true,
    sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
  });
  const [input, setInput] = useState('');

  // Follow turns started or continued on another device (another tab, a phone).
  useEffect(() => {
    let stopWatching = null;
    let mounted = true;
    transport.watch(chat.sessionId, async () => {
      setMessages(await transport.loadMessages(chat.sessionId));
      resumeStream();
    }).then((unwatch) => (mounted ? (stopWatching = unwatch) : unwatch()));
    return () => {
      mounted = false;
      stopWatching?.();
    };
  }, [chat.sessionId]);

  const busy = status === 'submitted' || status === 'streaming';
  const submit = (event) => {
    event.preventDefault();
    if (!input.trim() || busy) return;
    sendMessage({ text: input });
    setInput('');
  };

  return (
    <>
      <p className="status">status: <span data-testid="status">{status}</span></p>
      <ol className="messages">
        {messages.map((message) => (
          <li key={message.id} className={message.role} data-role={message.role} data-id={message.id}>
            {message.parts.map((part, i) => {
              if (part.type === 'text') return <span key={i} className="text">{part.text}</span>;
              if (part.type === 'dynamic-tool') return <Tool key={i} part={part} decide={addToolApprovalResponse} />;
              return null;
            })}
          </li>
        ))}
      </ol>
      {error && <p className="problem" data-testid="error">{error.message}</p>}
      <form onSubmit={submit}>
        <input value={input} onChange={(e) => setInput(e.target.value)} placeholder="Ask something (try: weather in Lisbon)"
          data-testid="input" />
        {busy
          ? <button type="button" onClick={stop} data-testid="stop">Stop</button>
          : <button type="submit" data-testid="send">Send</button>}
      </form>
    </>
  );
}

function Tool({ part, decide }) {
  return (
    <div className="tool" data-testid="tool" data-state={part.state}>
      <code>{part.toolName}({JSON.stringify(part.input)})</code> <em>{part.state}</em>
      {part.state === 'approval-requested' && (
        <>
          <button onClick={() => decide({ id: part.approval.id, approved: true })} data-testid="approve">Approve</button>
          <button onClick={() => decide({ id: part.approval.id, approved: false, reason: 'denied in the example app' })}
            data-testid="deny">Deny</button>
        </>
      )}
      {part.state === 'output-available' && <pre>{JSON.stringify(part.output)}</pre>}
    </div>
  );
}
