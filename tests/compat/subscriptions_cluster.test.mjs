// Data subscriptions on a replication-factor-3 database of a three-node
// cluster (cluster.mjs), through the unmodified npm client given all three
// URLs: one member serves the subscription (the others redirect the worker),
// GET /task names it, and when it is killed (-9) the worker moves to the
// member that takes over (once the supervisor moved the dead one out of the
// members). The new member takes over from the last acknowledged batch: the
// acknowledgements recorded which version of which document was delivered,
// so it skips those and delivers everything else. Nothing is skipped, the
// only documents delivered twice are the one batch the worker held
// unacknowledged when the member was killed, and a document changed after
// its delivery (before or after the kill) comes again with its new content.
// A "LastDocument" start point given on the failed member is honoured by the
// new one through its change vector, and what was acknowledged after it on
// the failed member is not delivered again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { CreateDatabaseOperation, DocumentStore, GetOngoingTaskInfoOperation } from "ravendb";
import { uniqueDbName } from "./harness.mjs";
import { CorvusCluster, eventually, http, sleep } from "./cluster.mjs";

let cluster;

before(async () => { cluster = await CorvusCluster.create(3); }, { timeout: 120_000 });
after(async () => { await cluster?.dispose(); });

async function putUsers(store, from, to) {
  const s = store.openSession();
  for (let i = from; i < to; i++) {
    await s.store({ n: i, "@metadata": { "@collection": "Users" } }, `users/${i}`);
  }
  await s.saveChanges();
}

// One version of one document as the worker saw it: "users/5@1005".
const version = (item) => `${item.id}@${item.result?.n ?? item.rawResult?.n}`;
const range = (from, to) => Array.from({ length: to - from }, (_, i) => `users/${from + i}`);

// The document `id` as node `url` holds it (null when it does not).
async function docOn(url, db, id) {
  const r = await http(url, "GET", `/databases/${db}/docs?id=${encodeURIComponent(id)}`);
  return r.status === 200 ? r.json.Results[0] : null;
}

test("one member serves a subscription; after a kill -9 of it another takes over from the last acknowledged batch", { timeout: 240_000 }, async () => {
  const db = uniqueDbName("subscluster");
  const store = new DocumentStore(cluster.urls, db).initialize();
  let killed = null;
  let worker = null;
  // A batch is at most 10 documents: the one batch the worker holds
  // unacknowledged at the kill is (part of) users/150..159, written in one
  // transaction.
  const BATCH = 10;
  try {
    await store.maintenance.server.send(new CreateDatabaseOperation({ databaseName: db }, 3));
    await putUsers(store, 0, 100);
    const name = await store.subscriptions.create({ query: "from Users" });
    const task = await store.maintenance.send(new GetOngoingTaskInfoOperation(name, "Subscription"));
    const responsible = task.responsibleNode.nodeTag;
    assert.ok(cluster.node(responsible), `responsible node ${responsible}`);
    const survivors = cluster.nodes.filter((n) => n.tag !== responsible);

    worker = store.subscriptions.getSubscriptionWorker({ subscriptionName: name, maxDocsPerBatch: BATCH,
                                                          timeToWaitBeforeConnectionRetry: 500 });
    const seen = [];        // ids, in delivery order
    const versions = [];    // id@n, in delivery order
    const errors = [];
    let hold = false;       // keep the next batch unacknowledged
    let held = null;        // { ids, release }
    worker.on("batch", (batch, callback) => {
      for (const item of batch.items) {
        seen.push(item.id);
        versions.push(version(item));
      }
      if (hold && !held) {
        held = { ids: batch.items.map((x) => x.id), release: callback };
        return;
      }
      callback();
    });
    worker.on("error", (e) => errors.push(e));
    const unique = () => new Set(seen).size;
    assert.ok(await eventually(() => unique() >= 100), `got ${unique()}; errors ${errors}\n${cluster.logs()}`);

    // A subscription from "now" consumed and acknowledged on the member
    // that is killed: the new member starts from its start point, not from
    // the beginning (users/0..99 came before it), and skips what was
    // acknowledged (users/200..209).
    const acked = await store.subscriptions.create({ query: "from Users", changeVector: "LastDocument" });
    await putUsers(store, 200, 210);
    {
      const ackedWorker = store.subscriptions.getSubscriptionWorker({ subscriptionName: acked, maxDocsPerBatch: 20 });
      const got = [];
      ackedWorker.on("batch", (batch, callback) => { got.push(...batch.items.map((x) => x.id)); callback(); });
      try {
        assert.ok(await eventually(() => new Set(got).size >= 10, 60_000), `the acked worker got ${got.length}`);
        assert.ok(await eventually(async () => (await store.subscriptions.getSubscriptionState(acked)).lastBatchAckTime),
          "the acknowledgement is recorded");
      } finally {
        ackedWorker.dispose();
      }
    }
    assert.ok(await eventually(() => unique() >= 110), `the first worker got ${unique()} of 110`);

    // A second subscription from "now" that nobody consumed before the failover.
    const fromNow = await store.subscriptions.create({ query: "from Users", changeVector: "LastDocument" });

    // The worker holds the next batch (users/150..159) unacknowledged; the
    // serving member sends nothing more meanwhile.
    hold = true;
    await putUsers(store, 150, 160);
    assert.ok(await eventually(() => held !== null, 60_000), "the batch to hold never came");
    // One transaction; replication to the serving member may still split it.
    assert.ok(held.ids.length > 0 && held.ids.every((id) => range(150, 160).includes(id)), `held ${held.ids}`);
    // users/5, delivered long ago, changes on a member that survives; the
    // killed one never gets to deliver it.
    const changed = { n: 1005, "@metadata": { "@collection": "Users" } };
    const put = await http(survivors[0].url, "PUT", `/databases/${db}/docs?id=users/5`, changed);
    assert.equal(put.status, 201, put.text);
    assert.ok(await eventually(async () => (await docOn(survivors[1].url, db, "users/5"))?.n === 1005),
      "users/5's change reaches the other survivor");

    killed = cluster.node(responsible);
    // crash() sends SIGKILL before its first await: the member is gone when
    // the worker acknowledges the held batch, which is released before the
    // client sees the connection end (else the client leaves its pending read
    // rejected and unhandled while it waits for us).
    const crashed = killed.crash();
    held.release();
    await crashed;
    await putUsers(store, 100, 150);
    {
      const s = store.openSession();
      await s.store({ n: 1006, "@metadata": { "@collection": "Users" } }, "users/6");  // changed after the kill
      await s.saveChanges();
    }
    const everyone = [...range(0, 160), ...range(200, 210)];
    assert.ok(await eventually(() => everyone.every((id) => seen.includes(id)) &&
                                     versions.includes("users/5@1005") && versions.includes("users/6@1006"), 90_000),
      `after killing ${responsible} the worker has ${unique()} of ${everyone.length}` +
      ` (users/5@1005: ${versions.includes("users/5@1005")}, users/6@1006: ${versions.includes("users/6@1006")});` +
      ` errors ${errors.map((e) => e.name)}\n${cluster.logs()}`);
    // Whatever else was still to come has come.
    await sleep(1000);
    for (const id of everyone) assert.ok(seen.includes(id), `${id} skipped`);
    assert.equal(unique(), everyone.length, `only Users: ${[...new Set(seen)].filter((id) => !everyone.includes(id))}`);
    // Delivered twice at the same version: only the batch held unacknowledged.
    const counts = new Map();
    for (const v of versions) counts.set(v, (counts.get(v) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([v]) => v.split("@")[0]);
    assert.ok(twice.length <= BATCH && twice.every((id) => held.ids.includes(id)),
      `redelivered at the same version: ${twice.sort()} (only the held batch ${held.ids} may be)`);
    assert.deepEqual(errors, []);

    // Its start point was the killed member's: the new one goes by its change
    // vector, so only the documents written or changed after it come.
    const afterStart = [...range(100, 160), "users/5", "users/6"].sort();
    const late = store.subscriptions.getSubscriptionWorker({ subscriptionName: fromNow, maxDocsPerBatch: 20 });
    const lateSeen = [];
    late.on("batch", (batch, callback) => { lateSeen.push(...batch.items.map((x) => x.id)); callback(); });
    try {
      assert.ok(await eventually(() => afterStart.every((id) => lateSeen.includes(id)), 60_000),
        `the LastDocument worker got ${lateSeen.length}: ${[...new Set(lateSeen)].sort()}`);
      await sleep(500);
      assert.deepEqual([...new Set(lateSeen)].sort(), afterStart);
    } finally {
      late.dispose();
    }
    // Acknowledged on the killed member after its start point: users/200..209
    // were delivered there and are not delivered again.
    const ackedAfter = store.subscriptions.getSubscriptionWorker({ subscriptionName: acked, maxDocsPerBatch: 20 });
    const ackedSeen = [];
    ackedAfter.on("batch", (batch, callback) => { ackedSeen.push(...batch.items.map((x) => x.id)); callback(); });
    try {
      assert.ok(await eventually(() => afterStart.every((id) => ackedSeen.includes(id)), 60_000),
        `the acknowledged LastDocument worker got ${ackedSeen.length}: ${[...new Set(ackedSeen)].sort()}`);
      await sleep(500);
      assert.deepEqual([...new Set(ackedSeen)].sort(), afterStart,
        "nothing from before its start point, nothing it acknowledged on the killed member");
    } finally {
      ackedAfter.dispose();
    }
    console.log(`# subscription failover: ${twice.length} redelivered at the same version (held batch ${held.ids.length}),` +
                ` ${versions.length} deliveries of ${unique()} documents`);
  } finally {
    worker?.dispose();
    store.dispose();
    if (killed && !killed.running) await killed.start();
  }
});
