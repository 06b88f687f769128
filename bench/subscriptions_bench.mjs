// bench/subscriptions_bench.mjs: data subscription delivery from a backlog.
// One corvusd (temp data dir, 127.0.0.1); N documents (~200 bytes each) are
// bulk-inserted first (store.bulkInsert), then a subscription `from Users` is
// created and ONE npm-client worker (getSubscriptionWorker, MaxDocsPerBatch B)
// consumes the backlog, acknowledging each batch (each acknowledgement is a
// Rachis commit). Reports documents/s from the worker's start to its last
// document, batches, and duplicates (must be 0 without failures). Not a test:
// never fails on a figure.
//
// With --raw the worker is a bare TCP client speaking the protocol without
// parsing the documents (it counts Data messages and answers each
// EndOfBatch): what the server delivers when the client costs nothing.
//
//   node bench/subscriptions_bench.mjs [--corvusd build/release/server/corvusd]
//        [--docs 1000000] [--batch 4096] [--raw]
// Needs tests/compat's node_modules (tests/compat/run.sh installs them).

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../tests/compat/package.json"));
const { DocumentStore, CreateDatabaseOperation } = require("ravendb");

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const corvusd = args.corvusd ?? join(here, "../build/release/server/corvusd");
const DOCS = Number(args.docs ?? 1_000_000);
const BATCH = Number(args.batch ?? 4096);
if (process.argv.includes("--raw")) args.raw = true;

const port = 20000 + Math.floor(Math.random() * 12000);
const url = `http://127.0.0.1:${port}`;
const dir = mkdtempSync(join(tmpdir(), "corvus-subs-bench-"));
const child = spawn(corvusd, ["--server-url", url, "--data-dir", dir], { stdio: ["ignore", "ignore", "inherit"] });
const cleanup = () => { try { child.kill("SIGKILL"); } catch { /* gone */ } rmSync(dir, { recursive: true, force: true }); };
process.on("exit", cleanup);
process.on("SIGINT", () => process.exit(130));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let i = 0; ; i++) {
  try { if ((await fetch(`${url}/healthz`)).status === 200) break; } catch { /* not yet */ }
  if (i > 200) throw new Error("corvusd did not start");
  await sleep(50);
}

// The client names the collection after the class: "Users".
class User {
  constructor(name, email, age, city) { Object.assign(this, { name, email, age, city }); }
}

const store = new DocumentStore(url, "bench");
store.initialize();
await store.maintenance.server.send(new CreateDatabaseOperation({ databaseName: "bench" }));

let t0 = Date.now();
const bulk = store.bulkInsert();
for (let i = 0; i < DOCS; i++) {
  await bulk.store(new User(`user ${i}`, `user${i}@example.com`, i % 90, "Springfield"), `users/${i}`);
}
await bulk.finish();
const loadSeconds = (Date.now() - t0) / 1000;
if (process.env.BENCH_VERBOSE) console.log(await (await fetch(`${url}/databases/bench/docs?id=users/1`)).text());
console.log(`backlog: ${DOCS} documents bulk-inserted in ${loadSeconds.toFixed(1)} s`);

const name = await store.subscriptions.create({ query: "from Users" });
if ("raw" in args) {
  await rawWorker(name);
  store.dispose();
  process.exit(0);
}
const worker = store.subscriptions.getSubscriptionWorker({ subscriptionName: name, maxDocsPerBatch: BATCH });
const seen = new Set();
let delivered = 0;
let batches = 0;
let firstAt = 0;
let lastAt = 0;
t0 = Date.now();
const done = new Promise((resolve, reject) => {
  worker.on("batch", (batch, callback) => {
    if (!firstAt) firstAt = Date.now();
    batches++;
    for (const item of batch.items) {
      delivered++;
      seen.add(item.id);
    }
    lastAt = Date.now();
    if (process.env.BENCH_VERBOSE) console.log(`batch ${batches}: ${batch.items.length}, total ${seen.size}`);
    callback();
    if (seen.size >= DOCS) resolve();
  });
  worker.on("error", reject);
});
await done;
const seconds = (lastAt - t0) / 1000;
console.log(`worker: ${seen.size} documents in ${batches} batches (max ${BATCH}) in ${seconds.toFixed(1)} s ` +
            `= ${Math.round(seen.size / seconds)} docs/s (first batch after ${firstAt - t0} ms); duplicates ${delivered - seen.size}`);
worker.dispose();
store.dispose();
process.exit(0);

// The protocol by hand: header, options, then count `"Type":"Data"` markers
// and acknowledge at each EndOfBatch (the markers cannot occur inside the
// documents of this bench).
async function rawWorker(subscription) {
  const net = await import("node:net");
  const info = await (await fetch(`${url}/info/tcp`)).json();
  const [host, tcpPort] = info.Url.slice("tcp://".length).split(":");
  const socket = net.connect(Number(tcpPort), host);
  socket.setNoDelay(true);
  await new Promise((r) => socket.once("connect", r));
  socket.write(JSON.stringify({ DatabaseName: "bench", Operation: "Subscription", OperationVersion: 53000 }));
  let negotiated = false;
  let tail = "";
  let documents = 0;
  let batches = 0;
  const start = Date.now();
  await new Promise((resolve) => {
    socket.on("data", (chunk) => {
      const text = tail + chunk.toString("latin1");
      if (!negotiated) {
        negotiated = true;
        socket.write(JSON.stringify({ SubscriptionName: subscription, MaxDocsPerBatch: BATCH }));
        tail = "";
        return;
      }
      let at = 0;
      for (;;) {
        const data = text.indexOf('"Type":"Data"', at);
        const end = text.indexOf('"Type":"EndOfBatch"', at);
        if (data < 0 && end < 0) break;
        if (data >= 0 && (end < 0 || data < end)) {
          documents++;
          at = data + 13;
        } else {
          batches++;
          at = end + 19;
          socket.write(JSON.stringify({ ChangeVector: null, Type: "Acknowledge" }));
        }
      }
      tail = text.slice(Math.max(at, text.length - 32));
      if (documents >= DOCS) resolve();
    });
  });
  const seconds = (Date.now() - start) / 1000;
  console.log(`raw worker: ${documents} documents in ${batches} batches (max ${BATCH}) in ${seconds.toFixed(1)} s = ` +
              `${Math.round(documents / seconds)} docs/s`);
  socket.destroy();
}
