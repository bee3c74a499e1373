// Starts the Durable Streams reference server (npm @durable-streams/server, in-memory storage) on
// 127.0.0.1:$PORT for side-by-side benchmarks. Prints "ready <url>" once listening.
import { DurableStreamTestServer } from "@durable-streams/server";

const port = Number(process.env.PORT ?? 0);
const server = new DurableStreamTestServer({ port, host: "127.0.0.1", compression: false });
const url = await server.start();
console.log(`ready ${url}`);

const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
