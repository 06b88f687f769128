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
// With --nodes N (N > 1) the database lives on a replication-factor-N group
// of an N-node cluster (tests/compat/cluster.mjs); the worker is served by the
// subscription's responsible member once every member holds the backlog, and
// each acknowledgement then also carries the batch's delivered (id, change
// vector) pairs (what another member needs to take over). The size of the
// serving node's Raft log and cluster state directories is printed at the end.
// With --takeover (and --raw, --nodes N > 1), once the backlog is consumed the
// serving member is killed (-9), one document is written, and a new raw worker
// on the member that takes over waits for it: how long the takeover scan of
// the backlog takes (it skips what the acknowledgements recorded as
// delivered) and how many documents it delivers again.
//
//   node bench/subscriptions_bench.mjs [--corvusd build/release/server/corvusd]
//        [--docs 1000000] [--batch 4096] [--raw] [--nodes 3 [--takeover]]
// Needs tests/compat's node_modules (tests/compat/run.sh installs them).

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../tests/compat/package.json"));
const { DocumentStore, CreateDatabaseOperation, GetOngoingTaskInfoOperation } = require("ravendb");

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const corvusd = args.corvusd ?? join(here, "../build/release/server/corvusd");
const DOCS = Number(args.docs ?? 1_000_000);
const BATCH = Number(args.batch ?? 4096);
if (process.argv.includes("--raw")) args.raw = true;
if (process.argv.includes("--takeover")) args.takeover = true;
const NODES = Number(args.nodes ?? 1);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let urls;
let dataDirs;  // by URL
let cleanup;
let cluster = null;
if (NODES > 1) {
  process.env.CORVUSD = corvusd;
  const { CorvusCluster } = await import("../tests/compat/cluster.mjs");
  cluster = await CorvusCluster.create(NODES);
  urls = cluster.urls;
  dataDirs = Object.fromEntries(cluster.nodes.map((n) => [n.url, n.dataDir]));
  cleanup = () => { for (const n of cluster.nodes) n.child?.kill("SIGKILL"); rmSync(cluster.dir, { recursive: true, force: true }); };
} else {
  const port = 20000 + Math.floor(Math.random() * 12000);
  const single = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), "corvus-subs-bench-"));
  const child = spawn(corvusd, ["--server-url", single, "--data-dir", dir], { stdio: ["ignore", "ignore", "inherit"] });
  cleanup = () => { try { child.kill("SIGKILL"); } catch { /* gone */ } rmSync(dir, { recursive: true, force: true }); };
  urls = [single];
  dataDirs = { [single]: dir };
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${single}/healthz`)).status === 200) break; } catch { /* not yet */ }
    if (i > 200) throw new Error("corvusd did not start");
    await sleep(50);
  }
}
process.on("exit", () => cleanup());
process.on("SIGINT", () => process.exit(130));
let url = urls[0];  // the serving member once the subscription exists

// The client names the collection after the class: "Users".
class User {
  constructor(name, email, age, city) { Object.assign(this, { name, email, age, city }); }
}

const store = new DocumentStore(urls, "bench");
store.initialize();
await store.maintenance.server.send(new CreateDatabaseOperation({ databaseName: "bench" }, NODES));

let t0 = Date.now();
const bulk = store.bulkInsert();
for (let i = 0; i < DOCS; i++) {
  await bulk.store(new User(`user ${i}`, `user${i}@example.com`, i % 90, "Springfield"), `users/${i}`);
}
await bulk.finish();
const loadSeconds = (Date.now() - t0) / 1000;
if (process.env.BENCH_VERBOSE) console.log(await (await fetch(`${url}/databases/bench/docs?id=users/1`)).text());
console.log(`backlog: ${DOCS} documents bulk-inserted in ${loadSeconds.toFixed(1)} s`);
if (NODES > 1) {
  // Every member holds the backlog before the worker starts: replication is not part of the figure.
  t0 = Date.now();
  for (const u of urls) {
    for (;;) {
      const stats = await (await fetch(`${u}/databases/bench/stats`)).json();
      if (stats.CountOfDocuments >= DOCS) break;
      await sleep(200);
    }
  }
  console.log(`replicated to all ${NODES} members ${((Date.now() - t0) / 1000).toFixed(1)} s after the load`);
}

const name = await store.subscriptions.create({ query: "from Users" });
if (NODES > 1) {
  const task = await store.maintenance.send(new GetOngoingTaskInfoOperation(name, "Subscription"));
  url = task.responsibleNode.nodeUrl;
  console.log(`served by node ${task.responsibleNode.nodeTag} (${url})`);
}
// What the acknowledgements cost in the serving node's Raft log and cluster state.
function reportRaftSize() {
  const dir = dataDirs[url];
  if (!dir) return;
  const du = (d) => { try { return execFileSync("du", ["-sb", join(dir, d)]).toString().split("\t")[0]; } catch { return "?"; } };
  console.log(`serving node: rachis log ${du("rachis")} bytes, cluster state ${du("rachis-state")} bytes`);
}
if ("raw" in args) {
  await rawWorker(name);
  reportRaftSize();
  if ("takeover" in args && cluster) await takeover(name);
  store.dispose();
  process.exit(0);
}
const worker = store.subscriptions.getSubscriptionWorker({ subscriptionName: name, maxDocsPerBatch: BATCH });
worker.on("error", (e) => console.error(`worker error: ${e}`));
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
reportRaftSize();
store.dispose();
process.exit(0);

// The protocol by hand: header, options, then count `"Type":"Data"` markers
// and acknowledge at each EndOfBatch (the markers cannot occur inside the
// documents of this bench).
// Kills the serving member, writes one document and times a raw worker on
// the member that takes over until that document arrives.
async function takeover(subscription) {
  const before = url;
  await cluster.nodes.find((n) => n.url === before).crash();
  const t = Date.now();
  for (;;) {
    try {
      const task = await store.maintenance.send(new GetOngoingTaskInfoOperation(subscription, "Subscription"));
      if (task.responsibleNode.nodeUrl && task.responsibleNode.nodeUrl !== before) {
        url = task.responsibleNode.nodeUrl;
        break;
      }
    } catch { /* the killed node, or no leader yet */ }
    if (Date.now() - t > 120_000) throw new Error("no member took the subscription over");
    await sleep(200);
  }
  console.log(`takeover: ${url} is responsible ${((Date.now() - t) / 1000).toFixed(1)} s after the kill`);
  const s = store.openSession();
  await s.store(new User("after the kill", "new@example.com", 1, "Springfield"), "users/takeover");
  await s.saveChanges();
  await rawWorker(subscription, (documents, text) => text.includes("users/takeover"), "takeover worker");
}

async function rawWorker(subscription, done = (documents) => documents >= DOCS, label = "raw worker") {
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
      if (done(documents, text)) resolve();
    });
  });
  const seconds = (Date.now() - start) / 1000;
  console.log(`${label}: ${documents} documents in ${batches} batches (max ${BATCH}) in ${seconds.toFixed(1)} s = ` +
              `${Math.round(documents / seconds)} docs/s`);
  socket.destroy();
}
