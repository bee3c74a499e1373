// A rolling restart under the official Durable Streams client, unchanged. The client talks to the nodes
// through a small TCP balancer (the stand-in for a Kubernetes Service: a new connection goes to a node
// whose /health/ready answered 200 at the last probe); an IdempotentProducer (maxInFlight 5) writes JSON
// messages at a steady rate, an SSE reader and a long-poll reader follow the stream, and meanwhile
// `scripts/cluster.sh roll` stops and restarts every node in turn. Afterwards every message must be in the
// stream once, in order, both readers must have seen exactly that, and no error may have escaped the
// client (producer errors, rejected promises, uncaught exceptions).
//
//   node rolling.mjs URL1,URL2,URL3 [MESSAGES_PER_SECOND]      (run from the repository root)
import net from 'node:net';
import { spawn } from 'node:child_process';
import { DurableStream, IdempotentProducer } from '@durable-streams/client';

const nodes = (process.argv[2] ?? '').split(',').filter(Boolean).map((u) => new URL(u));
const rate = Number(process.argv[3] ?? 50);
if (nodes.length < 2) {
  console.error('usage: node rolling.mjs URL1,URL2[,URL3] [MESSAGES_PER_SECOND]');
  process.exit(2);
}

const escaped = [];
process.on('unhandledRejection', (e) => escaped.push(`unhandled rejection: ${e?.stack ?? e}`));
process.on('uncaughtException', (e) => escaped.push(`uncaught exception: ${e?.stack ?? e}`));

// ------------------------------------------------------------------------------ the balancer
const ready = new Set();
let probing = true;
async function probe() {
  while (probing) {
    await Promise.all(nodes.map(async (node) => {
      try {
        const r = await fetch(new URL('/health/ready', node), { signal: AbortSignal.timeout(500) });
        await r.arrayBuffer();
        if (r.status === 200) ready.add(node.port); else ready.delete(node.port);
      } catch {
        ready.delete(node.port);
      }
    }));
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
let next = 0;
function route(client, attempt) {
  const candidates = nodes.filter((n) => ready.has(n.port));
  const pool = candidates.length > 0 ? candidates : nodes;
  const node = pool[next++ % pool.length];
  const upstream = net.connect(Number(node.port), node.hostname);
  let connected = false;
  upstream.once('connect', () => {
    connected = true;
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  });
  upstream.on('error', () => {
    if (!connected && attempt < 20) {
      setTimeout(() => route(client, attempt + 1), 100);
    } else {
      client.destroy();
    }
  });
  upstream.on('close', () => { if (connected) client.destroy(); });
  client.on('close', () => upstream.destroy());
}
const balancer = net.createServer((client) => {
  client.pause();
  client.on('error', () => {});
  route(client, 0);
});
await new Promise((resolve) => balancer.listen(0, '127.0.0.1', resolve));
const via = `http://127.0.0.1:${balancer.address().port}`;
const probes = probe();
while (ready.size < nodes.length) await new Promise((resolve) => setTimeout(resolve, 100));

// ------------------------------------------------------------------------------ the client
const name = `rolling-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
const url = `${via}/v1/stream/${name}`;
await DurableStream.create({ url, contentType: 'application/json' });
const stream = new DurableStream({ url, contentType: 'application/json' });

function follow(live) {
  const seen = [];
  let response;
  const done = stream.stream({ offset: '-1', live, json: true }).then((r) => {
    response = r;
    r.subscribeJson((batch) => {
      for (const item of batch.items) seen.push(item.i);
    });
    return r.closed;
  }).catch((e) => escaped.push(`${live} reader: ${e?.stack ?? e}`));
  return { seen, done, cancel: () => response?.cancel() };
}

let written = 0;
const producerErrors = [];
// The producer does no retrying of its own on network errors or 5xx (by design: the application passes
// the fetch it wants); an application that wants it to ride through restarts passes one that resends on
// those, and hands every other answer (a 409 with Producer-Expected-Seq among them) to the producer.
// Resending is safe: the producer's sequence numbers make every append idempotent.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function retryingFetch(input, init) {
  let delay = 50;
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(input, init);
      if (response.status < 500 || attempt >= 100) return response;
      const retryAfter = Number(response.headers.get('retry-after'));
      await response.arrayBuffer();
      await sleep(Math.max(retryAfter > 0 ? retryAfter * 1000 : 0, delay));
    } catch (e) {
      if (attempt >= 100) throw e;
      await sleep(delay);
    }
    delay = Math.min(delay * 2, 1000);
  }
}
const producer = new IdempotentProducer(stream, `producer-${name}`, {
  fetch: retryingFetch,
  maxInFlight: 5,
  lingerMs: 0,
  maxBatchBytes: 1,
  onError: (error) => producerErrors.push(String(error?.stack ?? error)),
});
const sse = follow('sse');
const longPoll = follow('long-poll');

let rolling = true;
const roll = new Promise((resolve) => {
  const child = spawn('scripts/cluster.sh', ['roll'], { stdio: ['ignore', 'inherit', 'inherit'] });
  child.on('exit', (code) => { rolling = false; resolve(code); });
});
const started = Date.now();
while (rolling) {
  producer.append(JSON.stringify({ i: written++ }));
  await new Promise((resolve) => setTimeout(resolve, 1000 / rate));
}
const rollCode = await roll;
for (let k = 0; k < rate; k++) {
  producer.append(JSON.stringify({ i: written++ }));
  await new Promise((resolve) => setTimeout(resolve, 1000 / rate));
}
// A producer that stopped making progress must fail the run, not hang it.
const flushed = await Promise.race([producer.flush().then(() => true),
  new Promise((resolve) => setTimeout(() => resolve(false), 60_000))]);
if (!flushed) escaped.push(`the producer did not flush within 60 s; first producer error: ${producerErrors[0] ?? 'none'}`);
else await producer.detach();
const deadline = Date.now() + 60_000;
while (Date.now() < deadline && (sse.seen.length < written || longPoll.seen.length < written)) {
  await new Promise((resolve) => setTimeout(resolve, 200));
}

// ------------------------------------------------------------------------------ the verdict
const stored = [];
let offset = '-1';
for (;;) {
  const response = await fetch(`${via}/v1/stream/${name}?offset=${offset}`);
  if (response.status !== 200) throw new Error(`read answered ${response.status}: ${await response.text()}`);
  stored.push(...(await response.json()).map((m) => m.i));
  offset = response.headers.get('Stream-Next-Offset');
  if (response.headers.get('Stream-Up-To-Date') === 'true') break;
}
const problems = [];
const inOrder = (list, what) => {
  if (list.length !== written) problems.push(`${what}: ${list.length} messages, expected ${written}`);
  for (let i = 0; i < Math.min(list.length, written); i++) {
    if (list[i] !== i) {
      problems.push(`${what}: message ${i} is ${list[i]} (missing, duplicated or out of order)`);
      break;
    }
  }
};
inOrder(stored, 'stream');
inOrder(sse.seen, 'SSE reader');
inOrder(longPoll.seen, 'long-poll reader');
if (rollCode !== 0) problems.push(`cluster.sh roll exited with ${rollCode}`);
if (producerErrors.length > 0) problems.push(`${producerErrors.length} producer errors, first: ${producerErrors[0]}`);
if (escaped.length > 0) problems.push(`${escaped.length} errors escaped the client, first: ${escaped[0]}`);
console.log(`rolling restart under the official client: ${written} messages in ${((Date.now() - started) / 1000).toFixed(1)} s, `
  + `${stored.length} stored, SSE saw ${sse.seen.length}, long-poll saw ${longPoll.seen.length}, `
  + `${producerErrors.length} producer errors, ${escaped.length} escaped errors`);
sse.cancel();
longPoll.cancel();
probing = false;
await probes;
balancer.close();
if (problems.length > 0) {
  console.error(`FAILED: ${problems.join('; ')}`);
  process.exit(1);
}
console.log('OK: every message once, in order, in the stream and at both readers; no error escaped');
process.exit(0);
