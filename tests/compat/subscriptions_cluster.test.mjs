// Data subscriptions on a replication-factor-3 database of a three-node
// cluster (cluster.mjs), through the unmodified npm client given all three
// URLs: one member serves the subscription (the others redirect the worker),
// GET /task names it, and when it is killed (-9) the worker moves to the
// member that takes over (once the supervisor moved the dead one out of the
// members) and gets every document: nothing skipped. Positions are etags of
// the serving member, so the new one starts over: the duplicates are counted.
// A "LastDocument" start point given on the failed member is honoured by the
// new one through its change vector, also once acknowledged there (the new
// member starts over from the start point, not from the beginning).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { CreateDatabaseOperation, DocumentStore, GetOngoingTaskInfoOperation } from "ravendb";
import { uniqueDbName } from "./harness.mjs";
import { CorvusCluster, eventually } from "./cluster.mjs";

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

test("one member serves a subscription; after a kill -9 of it another takes over without skipping", { timeout: 180_000 }, async () => {
  const db = uniqueDbName("subscluster");
  const store = new DocumentStore(cluster.urls, db).initialize();
  let killed = null;
  let worker = null;
  try {
    await store.maintenance.server.send(new CreateDatabaseOperation({ databaseName: db }, 3));
    await putUsers(store, 0, 100);
    const name = await store.subscriptions.create({ query: "from Users" });
    const task = await store.maintenance.send(new GetOngoingTaskInfoOperation(name, "Subscription"));
    const responsible = task.responsibleNode.nodeTag;
    assert.ok(cluster.node(responsible), `responsible node ${responsible}`);

    worker = store.subscriptions.getSubscriptionWorker({ subscriptionName: name, maxDocsPerBatch: 20,
                                                          timeToWaitBeforeConnectionRetry: 500 });
    const seen = [];
    const errors = [];
    worker.on("batch", (batch, callback) => {
      for (const item of batch.items) seen.push(item.id);
      callback();
    });
    worker.on("error", (e) => errors.push(e));
    const unique = () => new Set(seen).size;
    assert.ok(await eventually(() => unique() >= 100), `got ${unique()}; errors ${errors}\n${cluster.logs()}`);

    // A subscription from "now" consumed and acknowledged on the member
    // that is killed: the new member starts over from its start point, not
    // from the beginning (users/0..99 came before it).
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

    // A second subscription from "now" that nobody consumed before the failover.
    const fromNow = await store.subscriptions.create({ query: "from Users", changeVector: "LastDocument" });

    killed = cluster.node(responsible);
    await killed.crash();
    await putUsers(store, 100, 150);
    assert.ok(await eventually(() => unique() >= 150, 90_000),
      `after killing ${responsible} the worker has ${unique()} of 150; errors ${errors.map((e) => e.name)}\n${cluster.logs()}`);
    for (let i = 0; i < 150; i++) assert.ok(seen.includes(`users/${i}`), `users/${i} skipped`);
    assert.deepEqual(errors, []);

    // Its start point was the killed member's: the new one goes by its change
    // vector, so only the documents written after it come.
    const late = store.subscriptions.getSubscriptionWorker({ subscriptionName: fromNow, maxDocsPerBatch: 20 });
    const lateSeen = [];
    late.on("batch", (batch, callback) => { lateSeen.push(...batch.items.map((x) => x.id)); callback(); });
    try {
      assert.ok(await eventually(() => lateSeen.length >= 50, 60_000), `the LastDocument worker got ${lateSeen.length}`);
      assert.deepEqual([...new Set(lateSeen)].sort(), Array.from({ length: 50 }, (_, i) => `users/${100 + i}`).sort());
    } finally {
      late.dispose();
    }
    const ackedAfter = store.subscriptions.getSubscriptionWorker({ subscriptionName: acked, maxDocsPerBatch: 20 });
    const ackedSeen = [];
    ackedAfter.on("batch", (batch, callback) => { ackedSeen.push(...batch.items.map((x) => x.id)); callback(); });
    try {
      const wanted = [...Array.from({ length: 10 }, (_, i) => `users/${200 + i}`),
                      ...Array.from({ length: 50 }, (_, i) => `users/${100 + i}`)];
      assert.ok(await eventually(() => wanted.every((id) => ackedSeen.includes(id)), 60_000),
        `the acknowledged LastDocument worker got ${ackedSeen.length}: ${[...new Set(ackedSeen)].sort()}`);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual([...new Set(ackedSeen)].sort(), wanted.sort(), "nothing from before its start point");
    } finally {
      ackedAfter.dispose();
    }
    console.log(`# subscription failover: ${seen.length - unique()} duplicates of ${unique()} after the new member started over`);
  } finally {
    worker?.dispose();
    store.dispose();
    if (killed && !killed.running) await killed.start();
  }
});
