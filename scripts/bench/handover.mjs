// Appends through one node while another stops: how each append ended and how long it took.
//   node handover.mjs BASE_URL STREAMS SECONDS WRITERS
// Creates STREAMS text streams through BASE_URL, then keeps WRITERS plain appends in flight for SECONDS,
// round-robin over the streams. Prints one JSON line: count by status, latency percentiles (ms), and up
// to 5 examples of answers other than 204. Then checks that every stream holds exactly its acknowledged
// appends ("lost" and "extra" count the differences).
const [base, streamsArg, secondsArg, writersArg] = process.argv.slice(2);
const streams = +streamsArg, seconds = +secondsArg, writers = +writersArg;
const run = Date.now().toString(36);
const name = i => `${base}/v1/stream/handover-${run}-${i}`;
for (let i = 0; i < streams; i += 16) {
  await Promise.all(Array.from({length: Math.min(16, streams - i)}, async (_, k) => {
    const r = await fetch(name(i + k), {method: 'PUT', headers: {'Content-Type': 'text/plain'}});
    await r.arrayBuffer();
    if (r.status !== 201) throw new Error(`create answered ${r.status}`);
  }));
}
process.stderr.write(`created ${streams} streams; appending for ${seconds} s\n`);
const latencies = [], status = {}, examples = [], acked = new Array(streams).fill(0);
const end = Date.now() + seconds * 1000;
let turn = 0;
async function writer() {
  while (Date.now() < end) {
    const i = turn++ % streams, t = Date.now();
    let s;
    try {
      const r = await fetch(name(i), {method: 'POST', headers: {'Content-Type': 'text/plain'}, body: 'x'});
      s = r.status;
      const body = await r.text();
      if (s === 204) acked[i]++;
      else if (examples.length < 5) examples.push(`${s} after ${Date.now() - t} ms: ${body.slice(0, 160)}`);
    } catch (e) {
      s = 'error';
      if (examples.length < 5) examples.push(`error after ${Date.now() - t} ms: ${e.cause?.code ?? e.message}`);
    }
    latencies.push(Date.now() - t);
    status[s] = (status[s] || 0) + 1;
  }
}
await Promise.all(Array.from({length: writers}, writer));
let lost = 0, extra = 0;
for (let i = 0; i < streams; i++) {
  const stored = (await (await fetch(`${name(i)}?offset=-1`)).text()).length;
  if (stored < acked[i]) lost += acked[i] - stored; else extra += stored - acked[i];
}
latencies.sort((a, b) => a - b);
const q = p => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
console.log(JSON.stringify({appends: latencies.length, status, p50: q(0.5), p99: q(0.99), p999: q(0.999),
  max: latencies[latencies.length - 1], lost, extra, examples}));
