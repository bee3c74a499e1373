// Compiled (not run) by `npm run typecheck`: the declarations of @tether/ai-sdk and @tether/client
// describe what an app calls, and fit the AI SDK's ChatTransport.
import { Chat } from '@ai-sdk/react';
import type { ChatTransport, UIMessage } from 'ai';
import { TetherSession, TetherError, type ConnectionState, type SessionEvent } from '@tether/client';
import { TetherChatTransport, snapshotToUIMessages, type SessionSnapshot } from '@tether/ai-sdk';

const transport = new TetherChatTransport({
  baseUrl: 'https://chat.example.com',
  token: async (chatId: string) => `token-for-${chatId}`,
  sessionOptions: { transports: ['websocket', 'sse'] },
});
const asChatTransport: ChatTransport<UIMessage> = transport;
const chat = new Chat({ id: 'S1', transport });
void chat.sendMessage({ text: 'hello' });

async function follow(): Promise<UIMessage[]> {
  const stop: () => void = await transport.watch('S1', (event: SessionEvent) => console.log(event.type));
  stop();
  return transport.loadMessages('S1');
}

const session = new TetherSession({
  baseUrl: 'https://chat.example.com', sessionId: 'S1', token: 't',
  renewToken: async (error: TetherError) => (error.code === 'token_expired' ? 'fresh' : null),
});
session.on('state', (state: ConnectionState) => console.log(state.status, state.transport));
session.on('error', (error) => console.log(error.status, error.code));
session.on('event', (event) => console.log(event.type));
session.setToken('newer');
async function commands() {
  const sent = await session.send('hi', { messageId: 'm1' });
  const offset: string | undefined = sent.offset;
  await session.approve('call_1');
  await session.deny('call_1', 'no');
  const snapshot = snapshotToUIMessages((await session.snapshot()) as SessionSnapshot);
  return [offset, snapshot];
}

export { asChatTransport, follow, commands };
