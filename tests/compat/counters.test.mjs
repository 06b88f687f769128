// Counters through the official npm client: session.countersFor(id)
// increment/get/getAll/delete, counters included on load, the operations
// (CounterBatchOperation, GetCountersOperation), and a missing document.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { CounterBatch, CounterBatchOperation, CounterOperation, DocumentCountersOperation,
         GetCountersOperation } from "ravendb";
import { CorvusServer, createDatabaseAndStore, rawRequest, rejectsNamed } from "./harness.mjs";

let server;
before(async () => { server = await CorvusServer.create(); }, { timeout: 60_000 });
after(async () => { await server?.dispose(); });

class User {
  constructor(name) { this.name = name; }
}

async function storeUser(store, id) {
  const session = store.openSession();
  await session.store(new User("ann"), id);
  await session.saveChanges();
}

test("session countersFor: increment, get, getAll, delete and the document metadata", { timeout: 60_000 }, async () => {
  const { store } = await createDatabaseAndStore(server, "counters");
  try {
    await storeUser(store, "users/1");
    {
      const session = store.openSession();
      const counters = session.countersFor("users/1");
      counters.increment("likes", 5);
      counters.increment("Downloads");
      await session.saveChanges();
    }
    {
      const session = store.openSession();
      session.countersFor("users/1").increment("likes", -2);
      await session.saveChanges();
    }
    {
      const session = store.openSession();
      assert.equal(await session.countersFor("users/1").get("likes"), 3);
      assert.equal(await session.countersFor("users/1").get("LIKES"), 3);
      assert.equal(await session.countersFor("users/1").get("missing"), null);
      // Several names in another case: answered under the names asked for (as RavenDB does).
      assert.deepEqual(await store.openSession().countersFor("users/1").get(["DOWNLOADS", "Likes"]), { DOWNLOADS: 1, Likes: 3 });
      assert.deepEqual(await session.countersFor("users/1").getAll(), { Downloads: 1, likes: 3 });
      const user = await session.load("users/1");
      const metadata = session.advanced.getMetadataFor(user);
      assert.deepEqual(metadata["@counters"], ["Downloads", "likes"]);
      assert.match(metadata["@flags"], /HasCounters/);
    }
    {
      const session = store.openSession();
      session.countersFor("users/1").delete("Downloads");
      await session.saveChanges();
    }
    {
      const session = store.openSession();
      assert.deepEqual(await session.countersFor("users/1").getAll(), { likes: 3 });
      const metadata = session.advanced.getMetadataFor(await session.load("users/1"));
      assert.deepEqual(metadata["@counters"], ["likes"]);
    }
  } finally {
    store.dispose();
  }
});

test("counters included on load come from the one request", { timeout: 60_000 }, async () => {
  const { store } = await createDatabaseAndStore(server, "counters");
  try {
    await storeUser(store, "users/1");
    await storeUser(store, "users/2");
    {
      const session = store.openSession();
      session.countersFor("users/1").increment("likes", 10);
      session.countersFor("users/1").increment("views", 7);
      session.countersFor("users/2").increment("likes", 1);
      await session.saveChanges();
    }
    {
      const session = store.openSession();
      await session.load("users/1", { includes: (i) => i.includeCounter("likes") });
      const requests = session.advanced.numberOfRequests;
      assert.equal(await session.countersFor("users/1").get("likes"), 10);
      assert.equal(session.advanced.numberOfRequests, requests);
    }
    {
      const session = store.openSession();
      await session.load(["users/1", "users/2"], { includes: (i) => i.includeAllCounters() });
      const requests = session.advanced.numberOfRequests;
      assert.deepEqual(await session.countersFor("users/1").getAll(), { likes: 10, views: 7 });
      assert.deepEqual(await session.countersFor("users/2").getAll(), { likes: 1 });
      assert.equal(session.advanced.numberOfRequests, requests);
    }
  } finally {
    store.dispose();
  }
});

test("operations: a counter batch for several documents, full per-node values, a missing document", { timeout: 60_000 }, async () => {
  const { store, database } = await createDatabaseAndStore(server, "counters");
  try {
    await storeUser(store, "users/1");
    await storeUser(store, "users/2");
    const batch = new CounterBatch();
    for (const id of ["users/1", "users/2"]) {
      const doc = new DocumentCountersOperation();
      doc.documentId = id;
      doc.operations = [CounterOperation.create("likes", "Increment", 4)];
      batch.documents.push(doc);
    }
    const result = await store.operations.send(new CounterBatchOperation(batch));
    assert.equal(result.counters.length, 2);
    assert.deepEqual(result.counters.map((c) => [c.documentId, c.totalValue]), [["users/1", 4], ["users/2", 4]]);

    const full = await store.operations.send(new GetCountersOperation("users/1", ["likes"], true));
    const values = full.counters[0].counterValues;
    assert.equal(Object.keys(values).length, 1);
    assert.equal(Object.values(values)[0], 4);

    // Increments on a missing document fail, and the session's saveChanges with them.
    const missing = new CounterBatch();
    const doc = new DocumentCountersOperation();
    doc.documentId = "users/404";
    doc.operations = [CounterOperation.create("likes", "Increment", 1)];
    missing.documents.push(doc);
    // The client turns any 404 into an empty result; the server said why.
    assert.equal(await store.operations.send(new CounterBatchOperation(missing)), undefined);
    const raw = await rawRequest(server, "POST", `/databases/${database}/counters`,
                                 { body: JSON.stringify(missing.serialize()) });
    assert.equal(raw.status, 404);
    assert.equal(raw.json.Type, "Raven.Client.Exceptions.Documents.DocumentDoesNotExistException");
    // Through the session (bulk_docs) it is an error naming the document.
    const session = store.openSession();
    session.countersFor("users/404").increment("likes");
    const err = await rejectsNamed(session.saveChanges(), "BadRequestException");
    assert.match(err.message, /users\/404' does not exist/);
  } finally {
    store.dispose();
  }
});

test("deleting a document deletes its counters", { timeout: 60_000 }, async () => {
  const { store } = await createDatabaseAndStore(server, "counters");
  try {
    await storeUser(store, "users/1");
    {
      const session = store.openSession();
      session.countersFor("users/1").increment("likes", 3);
      await session.saveChanges();
    }
    {
      const session = store.openSession();
      await session.delete("users/1");
      await session.saveChanges();
    }
    await storeUser(store, "users/1");
    const session = store.openSession();
    assert.deepEqual(await session.countersFor("users/1").getAll(), {});
  } finally {
    store.dispose();
  }
});
