// Drives Tether with the official Durable Streams client, unchanged: an IdempotentProducer
// (maxInFlight 5, one message per batch, so every message is its own pipelined request) writes N JSON
// messages through a node that does not own the stream; a reader on another node then checks that
// every message arrived exactly once, in order, and the producer reported no error.
//
//   node idempotent-producer.mjs http://127.0.0.1:8081,http://127.0.0.1:8082,http://127.0.0.1:8083 [N]
import { DurableStream, IdempotentProducer } from '@durable-streams/client';

const nodes = (process.argv[2] ?? '').split(',').filter(Boolean);
const count = Number(process.argv[3] ?? 1000);
if (nodes.length < 2) {
  console.error('usage: node idempotent-producer.mjs URL1,URL2[,URL3] [N]');
  process.exit(2);
}

const name = `interop-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
await DurableStream.create({ url: `${nodes[0]}/v1/stream/${name}`, contentType: 'application/json' });

// The node that owns the stream, so that the producer can write through another one.
const admin = await (await fetch(`${nodes[0]}/v1/admin/streams/${name}`)).json();
const ownerPort = String(admin.owner.httpPort);
const via = nodes.find((url) => !url.endsWith(`:${ownerPort}`)) ?? nodes[1];
const reader = nodes.find((url) => url !== via) ?? nodes[0];
console.log(`stream ${name}: owner on port ${ownerPort}, producer through ${via}, reader on ${reader}`);

const errors = [];
const stream = new DurableStream({ url: `${via}/v1/stream/${name}`, contentType: 'application/json' });
const producer = new IdempotentProducer(stream, `producer-${name}`, {
  maxInFlight: 5,
  lingerMs: 0,
  maxBatchBytes: 1,
  onError: (error) => errors.push(error),
});
const started = Date.now();
for (let i = 0; i < count; i++) {
  producer.append(JSON.stringify({ i }));
}
await producer.flush();
await producer.detach();
const seconds = (Date.now() - started) / 1000;

// Read everything back, page by page, from another node.
const seen = [];
let offset = '-1';
for (;;) {
  const response = await fetch(`${reader}/v1/stream/${name}?offset=${offset}`);
  if (response.status !== 200) throw new Error(`read answered ${response.status}: ${await response.text()}`);
  seen.push(...(await response.json()).map((m) => m.i));
  offset = response.headers.get('Stream-Next-Offset');
  if (response.headers.get('Stream-Up-To-Date') === 'true') break;
}

const problems = [];
if (errors.length > 0) problems.push(`${errors.length} producer errors, first: ${errors[0]}`);
if (seen.length !== count) problems.push(`${seen.length} messages stored, expected ${count}`);
for (let i = 0; i < Math.min(seen.length, count); i++) {
  if (seen[i] !== i) {
    problems.push(`message ${i} is ${seen[i]} (duplicated or out of order)`);
    break;
  }
}
console.log(`${count} messages in ${seconds.toFixed(1)} s through a non-owner node: `
  + `${seen.length} stored, ${errors.length} producer errors`);
if (problems.length > 0) {
  console.error(`FAILED: ${problems.join('; ')}`);
  process.exit(1);
}
console.log('OK: every message once, in order');
