#!/usr/bin/env node
// A minimal WebSocket client for trying Tether from a terminal (Node 22+, or Node 20 with
// --experimental-websocket). Prints every frame it receives, one per line.
//
//   node scripts/ws.mjs URL [FRAME ...]            sends each FRAME (JSON text) once connected
//   node scripts/ws.mjs --for 10 URL [FRAME ...]   closes after 10 seconds (default: stays open)
//
// Lines typed on stdin are sent as frames too.
import { createInterface } from "node:readline";

const args = process.argv.slice(2);
let seconds = 0;
if (args[0] === "--for") {
  seconds = Number(args[1]);
  args.splice(0, 2);
}
const [url, ...frames] = args;
if (!url || typeof WebSocket === "undefined") {
  console.error(url ? "this Node has no WebSocket: use Node 22+ or node --experimental-websocket" :
    "usage: node scripts/ws.mjs [--for SECONDS] URL [FRAME ...]");
  process.exit(2);
}
const ws = new WebSocket(url);
ws.onopen = () => frames.forEach((f) => ws.send(f));
ws.onmessage = (e) => console.log(e.data);
ws.onerror = (e) => console.error(`error: ${e.message ?? "connection failed"}`);
ws.onclose = (e) => {
  console.log(`closed ${e.code}${e.reason ? " " + e.reason : ""}`);
  process.exit(0);
};
createInterface({ input: process.stdin }).on("line", (line) => line.trim() && ws.send(line));
if (seconds > 0) {
  setTimeout(() => ws.close(1000), seconds * 1000);
}
