// bench/changes_bench.mjs: the Changes API under load. One corvusd (temp data
// dir, 127.0.0.1), W WebSocket watchers of /databases/bench/changes
// (watch-docs), C closed-loop writers doing durable 1 KB PUTs for S seconds.
// Reports the write rate, the events per second delivered to all watchers,
// the delay from a PUT's acknowledgement (client side) to each watcher
// receiving its event (p50/p99/max; an event that arrives before the
// acknowledgement counts 0), and whether every watcher saw every write in the
// order the writes were acknowledged per writer. Not a test: never fails on a
// figure.
//
//   node bench/changes_bench.mjs [--corvusd build/release/server/corvusd]
//        [--watchers 100] [--clients 64] [--seconds 10]
// Needs tests/compat's node_modules (tests/compat/run.sh installs them).

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import http from "node:http";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../tests/compat/package.json"));
const WebSocket = require("ws");

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const corvusd = args.corvusd ?? join(here, "../build/release/server/corvusd");
const WATCHERS = Number(args.watchers ?? 100);
const CLIENTS = Number(args.clients ?? 64);
const SECONDS = Number(args.seconds ?? 10);

const port = 20000 + Math.floor(Math.random() * 12000);
const url = `http://127.0.0.1:${port}`;
const dir = mkdtempSync(join(tmpdir(), "corvus-changes-bench-"));
const child = spawn(corvusd, ["--server-url", url, "--data-dir", dir], { stdio: ["ignore", "ignore", "inherit"] });
const cleanup = () => { try { child.kill("SIGKILL"); } catch { /* gone */ } rmSync(dir, { recursive: true, force: true }); };
process.on("exit", cleanup);

const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS + 4 });
function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, { method, agent, headers: { "content-type": "application/json" } }, (res) => {
      let data = "";
      res.on("data", (c) => { data += c; });
      res.on("end", () => resolve({ status: res.statusCode, body: data }));
    });
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let i = 0; ; i++) {
  try { if ((await request("GET", "/healthz")).status === 200) break; } catch { /* not yet */ }
  if (i > 200) throw new Error("corvusd did not start");
  await sleep(100);
}
await request("PUT", "/admin/databases", JSON.stringify({ DatabaseName: "bench" }));

const ackAt = new Map();  // id -> hrtime ms of the acknowledgement
const delays = [];
const watchers = [];
for (let w = 0; w < WATCHERS; w++) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/databases/bench/changes`);
  const state = { ws, events: 0, lastSeq: new Map(), outOfOrder: 0 };
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  const confirmed = new Promise((resolve) => {
    ws.on("message", (data) => {
      const now = performance.now();
      const parsed = JSON.parse(data.toString());
      for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
        if (m.Type === "Confirm") { resolve(); continue; }
        if (m.Type !== "DocumentChange") continue;
        state.events++;
        const [, writer, seq] = m.Value.Id.split("/");
        const s = Number(seq);
        if ((state.lastSeq.get(writer) ?? -1) >= s) state.outOfOrder++;
        state.lastSeq.set(writer, s);
        const acked = ackAt.get(m.Value.Id);
        delays.push(acked === undefined ? 0 : Math.max(0, now - acked));
      }
    });
  });
  ws.send(JSON.stringify({ CommandId: 1, Command: "watch-docs" }));
  await confirmed;
  watchers.push(state);
}

const body = JSON.stringify({ text: "x".repeat(1000), "@metadata": { "@collection": "Bench" } });
let writes = 0;
const started = performance.now();
const stopAt = started + SECONDS * 1000;
await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
  for (let i = 0; performance.now() < stopAt; i++) {
    const id = `b/${c}/${i}`;
    const r = await request("PUT", `/databases/bench/docs?id=${encodeURIComponent(id)}`, body);
    if (r.status !== 201) throw new Error(`PUT ${r.status} ${r.body}`);
    ackAt.set(id, performance.now());
    writes++;
  }
}));
const writeSeconds = (performance.now() - started) / 1000;
// Let the last events arrive (bounded).
const expected = writes * WATCHERS;
for (let i = 0; i < 600 && watchers.reduce((a, w) => a + w.events, 0) < expected; i++) await sleep(50);
const deliverSeconds = (performance.now() - started) / 1000;
const delivered = watchers.reduce((a, w) => a + w.events, 0);
delays.sort((a, b) => a - b);
const pct = (p) => delays.length ? delays[Math.min(delays.length - 1, Math.floor(p * delays.length))].toFixed(1) : "-";
console.log(`watchers ${WATCHERS}, writers ${CLIENTS}, ${SECONDS}s`);
console.log(`writes: ${writes} (${(writes / writeSeconds).toFixed(0)}/s)`);
console.log(`events delivered: ${delivered} of ${expected} (${(delivered / deliverSeconds).toFixed(0)}/s over ${deliverSeconds.toFixed(1)}s)`);
console.log(`delay ack->event ms: p50 ${pct(0.5)} p99 ${pct(0.99)} max ${pct(1)}`);
console.log(`out of order (per writer): ${watchers.reduce((a, w) => a + w.outOfOrder, 0)}`);
for (const w of watchers) w.ws.close();
process.exit(0);
