// store.bulkInsert() through the unmodified client (REST.md §3.5): documents
// with client-side ids and generated ones, counters and attachments in the
// same stream, then read back; abort() cancels the operation (its state says
// so) and keeps what was flushed; a bulk insert that
// breaks the database's rules (a changed collection) fails the store call's
// finish() with the server's reason.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { GetStatisticsOperation } from "ravendb";
import { CorvusServer, rawRequest, withDatabaseStore } from "./harness.mjs";

const T = { timeout: 120_000 };
let server;

class User {
  constructor(name, age) {
    this.name = name;
    this.age = age;
  }
}

before(async () => { server = await CorvusServer.create(); }, { timeout: 60_000 });
after(async () => { await server?.dispose(); });

test("bulkInsert: 20,000 documents, counters and attachments arrive whole", T, async () => {
  await withDatabaseStore(server, "bulk", async (store) => {
    const bulk = store.bulkInsert();
    for (let i = 0; i < 20_000; i++) {
      await bulk.store(new User("user " + i, i % 90), "users/" + i);
    }
    const generated = new User("no id given", 1);
    await bulk.store(generated);
    for (let i = 0; i < 10; i++) {
      await bulk.countersFor("users/" + i).increment("likes", i + 1);
    }
    await bulk.attachmentsFor("users/1").store("photo.png", Buffer.from("not really a png"), "image/png");
    await bulk.finish();

    const stats = await store.maintenance.send(new GetStatisticsOperation());
    assert.ok(stats.countOfDocuments >= 20_001, "documents: " + stats.countOfDocuments);
    assert.equal(stats.countOfCounterEntries, 10);
    assert.equal(stats.countOfAttachments, 1);

    const session = store.openSession();
    const u = await session.load("users/19999", User);
    assert.equal(u.name, "user 19999");
    assert.equal(session.advanced.getMetadataFor(u)["@collection"], "Users");
    assert.ok(generated.id, "the client gave the generated entity its id");
    assert.equal((await session.load(generated.id, User)).name, "no id given");
    assert.equal(await session.countersFor("users/9").get("likes"), 10);
    const attachment = await session.advanced.attachments.get("users/1", "photo.png");
    try {
      assert.equal(attachment.details.contentType, "image/png");
      const chunks = [];
      for await (const c of attachment.data) chunks.push(c);
      assert.equal(Buffer.concat(chunks).toString(), "not really a png");
    } finally {
      attachment.dispose();
    }
  });
});

test("bulkInsert: abort() cancels the operation; what was flushed stays readable", T, async () => {
  await withDatabaseStore(server, "bulkabort", async (store, database) => {
    const bulk = store.bulkInsert();
    for (let i = 0; i < 5_000; i++) {
      await bulk.store(new User("user " + i, i), "users/" + i);
    }
    await bulk.abort();
    // The database's first operation id is 1.
    const state = await rawRequest(server, "GET", `/databases/${database}/operations/state?id=1`);
    assert.equal(state.status, 200);
    assert.equal(state.json.Status, "Canceled");
    // Killing it again: it is not running any more.
    const again = await rawRequest(server, "POST", `/databases/${database}/operations/kill?id=1`);
    assert.equal(again.status, 404);
    // Finishing a killed bulk insert fails with the server's reason (and
    // releases the client's stream and heartbeat timer).
    await assert.rejects(bulk.finish(), (e) => e.name === "BulkInsertAbortedException" && /killed/.test(e.message));
    const stats = await store.maintenance.send(new GetStatisticsOperation());
    assert.ok(stats.countOfDocuments <= 5_000);
    // Whatever was flushed is whole documents.
    const session = store.openSession();
    const some = await session.load("users/0", User);
    if (some) assert.equal(some.name, "user 0");
  });
});

test("bulkInsert: a document the server refuses fails finish() with its reason", T, async () => {
  await withDatabaseStore(server, "bulkbad", async (store) => {
    const session = store.openSession();
    await session.store(new User("existing", 1), "users/1");
    await session.saveChanges();

    const bulk = store.bulkInsert();
    // Same id, another collection: the server refuses to change a document's collection.
    await bulk.store({ name: "a dog", "@metadata": { "@collection": "Dogs" } }, "users/1");
    await assert.rejects(bulk.finish(), (e) => /collection/.test(e.message));
    const check = store.openSession();
    assert.equal((await check.load("users/1", User)).name, "existing");
  });
});

test("bulkInsert: skipOverwriteIfUnchanged writes only the documents whose content changed", T, async () => {
  await withDatabaseStore(server, "bulkskip", async (store, database) => {
    const load = async (ages, options) => {
      const bulk = store.bulkInsert(options);
      try {
        for (let i = 0; i < ages.length; i++) await bulk.store({ name: `u${i}`, age: ages[i] }, `users/${i}`);
      } finally {
        await bulk.finish();
      }
    };
    const ages = Array.from({ length: 300 }, (_, i) => i);
    await load(ages);
    const first = (await store.maintenance.send(new GetStatisticsOperation())).lastDocEtag;
    await load(ages, { skipOverwriteIfUnchanged: true });
    assert.equal((await store.maintenance.send(new GetStatisticsOperation())).lastDocEtag, first);
    ages[7] = 1000;
    ages[250] = 2000;
    await load(ages, { skipOverwriteIfUnchanged: true });
    assert.equal((await store.maintenance.send(new GetStatisticsOperation())).lastDocEtag, first + 2);
    assert.equal((await store.openSession().load("users/250")).age, 2000);
    await load(ages);  // without the option every document is written again
    assert.equal((await store.maintenance.send(new GetStatisticsOperation())).lastDocEtag, first + 302);
    const bad = await rawRequest(server, "POST", `/databases/${database}/bulk_insert?id=77&skipOverwriteIfUnchanged=maybe`,
      { body: "[]" });
    assert.equal(bad.status, 400);
    assert.match(bad.json.Message, /skipOverwriteIfUnchanged/);
  });
});
