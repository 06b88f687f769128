// Streams through the official npm client: session.advanced.stream(query)
// (document queries and raw RQL, with the statistics callback and event) in
// jsonl (the 7.x client's default) and json, session.advanced.stream(idPrefix)
// with matches/exclude/startAfter/start/pageSize, and the errors a client
// gets for a bad query or an unknown index.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { CorvusServer, withDatabaseStore, rejectsNamed } from "./harness.mjs";

let server;
before(async () => { server = await CorvusServer.create(); }, { timeout: 60_000 });
after(async () => { await server?.dispose(); });

class User {
  constructor(name, age) {
    this.name = name;
    this.age = age;
  }
}

async function storeUsers(store, count) {
  const session = store.openSession();
  for (let i = 1; i <= count; i++) await session.store(new User(`user${i}`, i), `users/${i}`);
  await session.store({ total: 1, "@metadata": { "@collection": "Orders" } }, "orders/1");
  await session.saveChanges();
}

// Everything a stream hands out, and the statistics it emitted.
async function drain(streamPromise) {
  const s = await streamPromise;
  const items = [];
  let stats = null;
  s.on("stats", (st) => { stats = st; });
  await new Promise((resolve, reject) => {
    s.on("data", (item) => items.push(item));
    s.on("end", resolve);
    s.on("error", reject);
  });
  return { items, stats };
}

for (const jsonl of [true, false]) {
  const format = jsonl ? "jsonl" : "json";
  const configure = (store) => { store.conventions.useJsonlStreaming = jsonl; };

  test(`stream(query) in ${format}: entities, ids, change vectors, statistics`, { timeout: 60_000 }, async () => {
    await withDatabaseStore(server, `streams_${format}`, async (store) => {
      await storeUsers(store, 120);
      const session = store.openSession();
      let fromCallback = null;
      const query = session.query({ collection: "Users", documentType: User }).whereGreaterThan("age", 100);
      const { items, stats } = await drain(session.advanced.stream(query, (st) => { fromCallback = st; }));
      assert.equal(items.length, 20);
      const ages = items.map((i) => i.document.age).sort((a, b) => a - b);
      assert.deepEqual(ages, Array.from({ length: 20 }, (_, k) => 101 + k));
      for (const item of items) {
        assert.ok(item.document instanceof User);
        assert.equal(item.id, `users/${item.document.age}`);
        assert.match(item.changeVector, /^A:\d+-/);
        assert.equal(item.metadata["@collection"], "Users");
      }
      // The statistics come after the results; the client reports them anyway.
      assert.ok(stats, "no stats event");
      assert.equal(stats.totalResults, 20);
      assert.equal(stats.indexName, "Auto/Users/Byage");
      assert.equal(stats.isStale, false);
      assert.ok(stats.indexTimestamp instanceof Date);
      assert.deepEqual(fromCallback, stats);

      // A whole collection, no index: every document in etag order.
      const all = await drain(session.advanced.stream(session.query({ collection: "Users" })));
      assert.equal(all.items.length, 120);
      assert.deepEqual(all.items.slice(0, 3).map((i) => i.id), ["users/1", "users/2", "users/3"]);
      assert.equal(all.stats.indexName, "collection/Users");

      // Raw RQL with parameters, and a projection.
      const raw = session.advanced.rawQuery("from Users where age between $lo and $hi select name")
        .addParameter("lo", 5).addParameter("hi", 7);
      const projected = await drain(session.advanced.stream(raw));
      assert.deepEqual(projected.items.map((i) => i.document.name).sort(), ["user5", "user6", "user7"]);
    }, configure);
  });

  test(`stream(idPrefix) in ${format}: prefix, matches, exclude, startAfter, paging`, { timeout: 60_000 }, async () => {
    await withDatabaseStore(server, `streamdocs_${format}`, async (store) => {
      await storeUsers(store, 25);
      const session = store.openSession();
      const ids = async (opts) => (await drain(session.advanced.stream("users/", opts))).items.map((i) => i.id);
      const everyId = await ids();
      assert.equal(everyId.length, 25);
      assert.deepEqual(everyId.slice(0, 4), ["users/1", "users/10", "users/11", "users/12"]);  // id order
      assert.deepEqual(await ids({ matches: "2*" }), ["users/2", "users/20", "users/21", "users/22", "users/23",
                                                      "users/24", "users/25"]);
      assert.deepEqual(await ids({ matches: "1?|3", exclude: "1*9|12" }),
                       ["users/10", "users/11", "users/13", "users/14", "users/15", "users/16", "users/17",
                        "users/18", "users/3"]);
      assert.deepEqual(await ids({ startAfter: "users/23" }), ["users/24", "users/25", "users/3", "users/4",
                                                               "users/5", "users/6", "users/7", "users/8",
                                                               "users/9"]);
      assert.deepEqual(await ids({ start: 2, pageSize: 3 }), ["users/11", "users/12", "users/13"]);
      const first = (await drain(session.advanced.stream("users/1", { pageSize: 1 }))).items[0];
      assert.equal(first.document.name, "user1");
      assert.equal(first.metadata["@collection"], "Users");
      assert.deepEqual((await drain(session.advanced.stream("nobody/"))).items, []);
    }, configure);
  });
}

test("stream errors: a bad query and an unknown index", { timeout: 60_000 }, async () => {
  await withDatabaseStore(server, "streamerrors", async (store) => {
    await storeUsers(store, 3);
    const session = store.openSession();
    await rejectsNamed(session.advanced.stream(session.advanced.rawQuery("from Users where")),
                       "InvalidQueryException");
    await rejectsNamed(session.advanced.stream(session.advanced.rawQuery("from index 'Auto/Nope/ByX'")),
                       "IndexDoesNotExistException");
    // The session still works afterwards.
    assert.equal((await drain(session.advanced.stream(session.query({ collection: "Users" })))).items.length, 3);
  });
});
