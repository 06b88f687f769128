// The Changes API through the npm client: store.changes() over the
// WebSocket at /databases/{db}/changes, each kind of document watch, index
// changes (forIndex, forAllIndexes), and a
// client that keeps its subscriptions across a server restart under it.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { DeleteIndexOperation } from "ravendb";
import { CorvusServer, withDatabaseStore, sleep } from "./harness.mjs";

let server;
before(async () => { server = await CorvusServer.create(); }, { timeout: 60_000 });
after(async () => { await server?.dispose(); });

// Resolves once `events` holds `n` items; rejects after `ms` with what came.
async function waitFor(events, n, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (events.length < n) {
    if (Date.now() > deadline) {
      throw new Error(`expected ${n} events, got ${events.length}: ${JSON.stringify(events)}`);
    }
    await sleep(20);
  }
}

async function subscribe(observable) {
  const events = [];
  observable.on("data", (e) => events.push(e));
  observable.on("error", () => { /* reconnects are tested explicitly */ });
  await observable.ensureSubscribedNow();
  return events;
}

async function put(store, id, doc, collection) {
  const s = store.openSession();
  if (collection) doc["@metadata"] = { "@collection": collection };
  await s.store(doc, id);
  await s.saveChanges();
}

test("forDocument and forAllDocuments see puts and deletes, in order", { timeout: 30_000 }, async () => {
  await withDatabaseStore(server, "changes_doc", async (store) => {
    const changes = store.changes();
    try {
      await changes.ensureConnectedNow();
      const one = await subscribe(changes.forDocument("users/1"));
      const all = await subscribe(changes.forAllDocuments());
      await put(store, "users/1", { name: "a" }, "Users");
      await put(store, "users/2", { name: "b" }, "Users");
      const s = store.openSession();
      await s.delete("users/1");
      await s.saveChanges();
      await waitFor(all, 3);
      await waitFor(one, 2);
      assert.deepEqual(all.map((e) => [e.type, e.id]), [["Put", "users/1"], ["Put", "users/2"], ["Delete", "users/1"]]);
      assert.deepEqual(one.map((e) => e.type), ["Put", "Delete"]);
      assert.equal(all[0].collectionName, "Users");
      assert.match(all[0].changeVector, /^A:\d+-/);
      await sleep(200);
      assert.equal(one.length, 2, "users/2 is not reported to forDocument('users/1')");
    } finally {
      changes.dispose();
    }
  });
});

test("forDocumentsInCollection and forDocumentsStartingWith filter", { timeout: 30_000 }, async () => {
  await withDatabaseStore(server, "changes_filters", async (store) => {
    const changes = store.changes();
    try {
      const users = await subscribe(changes.forDocumentsInCollection("Users"));
      const orders = await subscribe(changes.forDocumentsStartingWith("orders/"));
      await put(store, "users/1", { n: 1 }, "Users");
      await put(store, "orders/1", { n: 2 }, "Orders");
      await put(store, "companies/1", { n: 3 }, "Companies");
      await put(store, "users/2", { n: 4 }, "Users");
      await waitFor(users, 2);
      await waitFor(orders, 1);
      await sleep(200);
      assert.deepEqual(users.map((e) => e.id), ["users/1", "users/2"]);
      assert.deepEqual(orders.map((e) => e.id), ["orders/1"]);
    } finally {
      changes.dispose();
    }
  });
});

test("many writes reach a watcher complete and in order", { timeout: 60_000 }, async () => {
  await withDatabaseStore(server, "changes_many", async (store) => {
    const changes = store.changes();
    try {
      const all = await subscribe(changes.forAllDocuments());
      const writers = [];
      for (let w = 0; w < 4; w++) {
        writers.push((async () => {
          for (let i = 0; i < 50; i++) await put(store, `w${w}/${i}`, { i });
        })());
      }
      await Promise.all(writers);
      await waitFor(all, 200);
      for (let w = 0; w < 4; w++) {
        const mine = all.filter((e) => e.id.startsWith(`w${w}/`)).map((e) => e.id);
        assert.deepEqual(mine, Array.from({ length: 50 }, (_, i) => `w${w}/${i}`));
      }
    } finally {
      changes.dispose();
    }
  });
});

test("a watcher keeps working after the server restarts under it", { timeout: 60_000 }, async () => {
  await withDatabaseStore(server, "changes_restart", async (store) => {
    const changes = store.changes();
    try {
      const all = await subscribe(changes.forAllDocuments());
      await put(store, "before/1", { x: 1 });
      await waitFor(all, 1);
      await server.restart();
      // The client reconnects by itself (every second) and sends its
      // watches again; writes made before it is back are not replayed
      // (no grace period yet), so write until one arrives.
      const deadline = Date.now() + 30_000;
      let i = 0;
      while (!all.some((e) => e.id.startsWith("after/"))) {
        if (Date.now() > deadline) throw new Error(`no event after the restart: ${JSON.stringify(all)}`);
        await put(store, `after/${i++}`, { x: i });
        await sleep(300);
      }
      assert.equal(all[0].id, "before/1");
    } finally {
      changes.dispose();
    }
  });
});

test("counter watches: forAllCounters, forCounter, forCounterOfDocument, forCountersOfDocument", { timeout: 30_000 }, async () => {
  await withDatabaseStore(server, "changes_counters", async (store) => {
    const changes = store.changes();
    try {
      const all = await subscribe(changes.forAllCounters());
      const likes = await subscribe(changes.forCounter("likes"));
      const ofDoc = await subscribe(changes.forCountersOfDocument("users/2"));
      const one = await subscribe(changes.forCounterOfDocument("users/1", "likes"));
      await put(store, "users/1", { n: 1 }, "Users");
      await put(store, "users/2", { n: 2 }, "Users");
      const bump = async (id, name, by) => {
        const s = store.openSession();
        s.countersFor(id).increment(name, by);
        await s.saveChanges();
      };
      await bump("users/1", "likes", 1);
      await bump("users/1", "likes", 5);
      await bump("users/2", "views", 3);
      const s = store.openSession();
      s.countersFor("users/1").delete("likes");
      await s.saveChanges();
      await waitFor(all, 4);
      assert.deepEqual(all.map((e) => [e.type, e.documentId, e.name, e.value]), [
        ["Put", "users/1", "likes", 1],
        ["Increment", "users/1", "likes", 6],
        ["Put", "users/2", "views", 3],
        ["Delete", "users/1", "likes", 0],
      ]);
      assert.equal(all[0].collectionName, "Users");
      assert.ok(all[0].changeVector);
      await waitFor(likes, 3);
      await waitFor(one, 3);
      await waitFor(ofDoc, 1);
      await sleep(200);
      assert.equal(likes.length, 3);
      assert.equal(one.length, 3);
      assert.deepEqual(ofDoc.map((e) => e.name), ["views"]);
    } finally {
      changes.dispose();
    }
  });
});

test("forAllIndexes and forIndex see an auto-index added, indexing and removed", { timeout: 30_000 }, async () => {
  await withDatabaseStore(server, "changes_indexes", async (store) => {
    const changes = store.changes();
    try {
      await put(store, "users/1", { name: "a" }, "Users");
      const all = await subscribe(changes.forAllIndexes());
      const one = await subscribe(changes.forIndex("Auto/Users/Byname"));
      const other = await subscribe(changes.forIndex("Auto/Orders/Byname"));
      const s = store.openSession();
      const found = await s.query({ collection: "Users" }).whereEquals("name", "a").waitForNonStaleResults().all();
      assert.equal(found.length, 1);
      const until = async (events, type) => {
        const deadline = Date.now() + 10_000;
        while (!events.some((e) => e.type === type)) {
          if (Date.now() > deadline) throw new Error(`no ${type}: ${JSON.stringify(events)}`);
          await sleep(20);
        }
      };
      await until(all, "BatchCompleted");
      await until(one, "BatchCompleted");
      assert.equal(all[0].type, "IndexAdded");
      assert.equal(all[0].name, "Auto/Users/Byname");
      await store.maintenance.send(new DeleteIndexOperation("Auto/Users/Byname"));
      await until(all, "IndexRemoved");
      await until(one, "IndexRemoved");
      assert.ok(all.every((e) => e.name === "Auto/Users/Byname"));
      assert.equal(other.length, 0, "another index's watcher hears nothing");
    } finally {
      changes.dispose();
    }
  });
});
