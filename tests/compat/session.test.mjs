// Document session behaviour: store/load/delete/exists, includes, optimistic
// concurrency and metadata, all through the unmodified client.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { GetStatisticsOperation } from "ravendb";
import { CorvusServer, rejectsNamed, withDatabaseStore } from "./harness.mjs";

const T = { timeout: 30_000 };
let server;

class User {
  constructor(name, age, friendId) {
    this.name = name;
    this.age = age;
    this.friendId = friendId;
  }
  greeting() { return `hi ${this.name}`; }
}

class Order {
  constructor(product, createdAt) {
    this.product = product;
    this.createdAt = createdAt;
  }
}

before(async () => { server = await CorvusServer.create(); }, { timeout: 60_000 });
after(async () => { await server?.dispose(); });

const withStore = (prefix, fn, configure) => withDatabaseStore(server, prefix, fn, configure);

test("store/load/saveChanges with explicit ids round-trips the document", T, () => withStore("crud", async (store) => {
  const s1 = store.openSession();
  await s1.store({ name: "Ada", age: 36, tags: ["math", "engines"], nested: { a: { b: [1, 2, { c: null }] } } }, "people/ada");
  await s1.store({ name: "Grace", age: 85, unicode: "Grâce – ✓" }, "people/grace");
  await s1.saveChanges();

  const s2 = store.openSession();
  const ada = await s2.load("people/ada");
  assert.equal(ada.name, "Ada");
  assert.equal(ada.age, 36);
  assert.deepEqual(ada.tags, ["math", "engines"]);
  assert.deepEqual(ada.nested, { a: { b: [1, 2, { c: null }] } });
  const grace = await s2.load("people/grace");
  assert.equal(grace.unicode, "Grâce – ✓");
  // Loading the same id again is served by the session (identity map).
  const before = s2.advanced.numberOfRequests;
  assert.equal(await s2.load("people/ada"), ada);
  assert.equal(s2.advanced.numberOfRequests, before);

  // Ids are case-insensitive; the stored case is preserved.
  const s3 = store.openSession();
  const upper = await s3.load("PEOPLE/ADA");
  assert.equal(upper.name, "Ada");
  assert.equal(s3.advanced.getDocumentId(upper), "people/ada");

  // Modify and save: change is persisted and visible to a fresh session.
  upper.age = 37;
  await s3.saveChanges();
  const s4 = store.openSession();
  assert.equal((await s4.load("people/ada")).age, 37);

  // A session without changes sends nothing on saveChanges.
  const n = s4.advanced.numberOfRequests;
  await s4.saveChanges();
  assert.equal(s4.advanced.numberOfRequests, n);

  // Loading a missing single id gives null.
  assert.equal(await s4.load("people/nobody"), null);
}));

test("loading many ids returns null for the missing ones, in order", T, () => withStore("many", async (store) => {
  const s1 = store.openSession();
  for (const i of [1, 3, 5]) await s1.store({ n: i }, `nums/${i}`);
  await s1.saveChanges();

  const s2 = store.openSession();
  const ids = ["nums/1", "nums/2", "nums/3", "nums/4", "nums/5"];
  const docs = await s2.load(ids);
  assert.deepEqual(Object.keys(docs), ids);
  assert.equal(docs["nums/1"].n, 1);
  assert.equal(docs["nums/2"], null);
  assert.equal(docs["nums/3"].n, 3);
  assert.equal(docs["nums/4"], null);
  assert.equal(docs["nums/5"].n, 5);
  assert.equal(s2.advanced.numberOfRequests, 1, "one request for the whole batch");

  // A long id list makes the client switch to POST /docs; same semantics.
  const longIds = [];
  for (let i = 0; i < 60; i++) longIds.push(`nums/${i}-${"x".repeat(20)}`);
  longIds.push("nums/5");
  const s3 = store.openSession();
  const many = await s3.load(longIds);
  assert.equal(Object.keys(many).length, longIds.length);
  assert.equal(many["nums/5"].n, 5);
  assert.equal(Object.values(many).filter((d) => d !== null).length, 1);
}));

test("include: the included document is served from the session without another request", T, () => withStore("incl", async (store) => {
  const s1 = store.openSession();
  await s1.store(new User("Alice", 30, "users/bob"), "users/alice");
  await s1.store(new User("Bob", 31, null), "users/bob");
  await s1.saveChanges();

  const s2 = store.openSession();
  const alice = await s2.include("friendId").load("users/alice");
  assert.equal(alice.name, "Alice");
  assert.equal(s2.advanced.numberOfRequests, 1);
  assert.ok(s2.advanced.isLoaded("users/bob"), "included doc is tracked by the session");
  const bob = await s2.load(alice.friendId);
  assert.equal(bob.name, "Bob");
  assert.equal(s2.advanced.numberOfRequests, 1, "loading the included doc made no extra request");

  // Include pointing at a missing document: load still works and the
  // missing include is remembered as missing.
  const s3 = store.openSession();
  await s3.store(new User("Carol", 40, "users/nobody"), "users/carol");
  await s3.saveChanges();
  const s4 = store.openSession();
  const carol = await s4.include("friendId").load("users/carol");
  assert.equal(carol.name, "Carol");
  assert.equal(await s4.load("users/nobody"), null);
  assert.ok(s4.advanced.numberOfRequests <= 2);

  // Include with many ids.
  const s5 = store.openSession();
  const docs = await s5.include("friendId").load(["users/alice", "users/carol"]);
  assert.equal(docs["users/alice"].name, "Alice");
  assert.equal(s5.advanced.numberOfRequests, 1);
  assert.equal((await s5.load("users/bob")).name, "Bob");
  assert.equal(s5.advanced.numberOfRequests, 1);
}));

test("delete by id and by entity removes documents; deleting a missing id is fine", T, () => withStore("delete", async (store) => {
  const s1 = store.openSession();
  await s1.store({ v: 1 }, "d/1");
  await s1.store({ v: 2 }, "d/2");
  await s1.store({ v: 3 }, "d/3");
  await s1.saveChanges();

  const s2 = store.openSession();
  s2.delete("d/1");
  const d2 = await s2.load("d/2");
  s2.delete(d2);
  s2.delete("d/never-existed");
  await s2.saveChanges();

  const s3 = store.openSession();
  const docs = await s3.load(["d/1", "d/2", "d/3"]);
  assert.equal(docs["d/1"], null);
  assert.equal(docs["d/2"], null);
  assert.equal(docs["d/3"].v, 3);
  const stats = await store.maintenance.send(new GetStatisticsOperation());
  assert.equal(stats.countOfDocuments, 1);

  // A deleted id can be stored again.
  const s4 = store.openSession();
  await s4.store({ v: 10 }, "d/1");
  await s4.saveChanges();
  assert.equal((await store.openSession().load("d/1")).v, 10);
}));

test("session.advanced.exists reflects the server state", T, () => withStore("exists", async (store) => {
  const s1 = store.openSession();
  await s1.store({ x: 1 }, "e/1");
  await s1.saveChanges();

  const s2 = store.openSession();
  assert.equal(await s2.advanced.exists("e/1"), true);
  assert.equal(await s2.advanced.exists("E/1"), true, "case-insensitive");
  assert.equal(await s2.advanced.exists("e/2"), false);

  const s3 = store.openSession();
  s3.delete("e/1");
  await s3.saveChanges();
  assert.equal(await store.openSession().advanced.exists("e/1"), false);
}));

test("optimistic concurrency: the second concurrent saveChanges throws ConcurrencyException", T, () => withStore("occ", async (store) => {
  const s0 = store.openSession();
  await s0.store({ name: "original", counter: 0 }, "occ/1");
  await s0.saveChanges();

  const a = store.openSession();
  const b = store.openSession();
  a.advanced.useOptimisticConcurrency = true;
  b.advanced.useOptimisticConcurrency = true;
  const docA = await a.load("occ/1");
  const docB = await b.load("occ/1");
  docA.name = "from A";
  docB.name = "from B";
  await a.saveChanges();
  const err = await rejectsNamed(b.saveChanges(), "ConcurrencyException");
  assert.match(err.message, /occ\/1/);

  const check = store.openSession();
  const doc = await check.load("occ/1");
  assert.equal(doc.name, "from A", "the losing write was not applied");
  assert.equal(check.advanced.getChangeVectorFor(doc), a.advanced.getChangeVectorFor(docA));

  // The failed batch is atomic: another write in the same batch is not applied.
  const c = store.openSession();
  c.advanced.useOptimisticConcurrency = true;
  const docC = await c.load("occ/1");
  const d = store.openSession();
  (await d.load("occ/1")).counter = 1;
  await d.saveChanges();
  docC.counter = 99;
  await c.store({ side: true }, "occ/side-effect");
  await rejectsNamed(c.saveChanges(), "ConcurrencyException");
  const check2 = store.openSession();
  assert.equal((await check2.load("occ/1")).counter, 1);
  assert.equal(await check2.load("occ/side-effect"), null, "batch rolled back as a whole");

  // Storing a new entity with concurrency on fails if the id already exists.
  const e = store.openSession();
  e.advanced.useOptimisticConcurrency = true;
  await e.store({ name: "clobber" }, "occ/1");
  await rejectsNamed(e.saveChanges(), "ConcurrencyException");
  assert.equal((await store.openSession().load("occ/1")).name, "from A");

  // Explicit change vector on store(): stale one fails, current one succeeds.
  const f = store.openSession();
  await f.store({ name: "stale" }, "occ/1", { changeVector: "A:1-AAAAAAAAAAAAAAAAAAAAAA" });
  await rejectsNamed(f.saveChanges(), "ConcurrencyException");
  const g = store.openSession();
  const cur = await g.load("occ/1");
  const cv = g.advanced.getChangeVectorFor(cur);
  const h = store.openSession();
  await h.store({ name: "with cv" }, "occ/1", { changeVector: cv });
  await h.saveChanges();
  assert.equal((await store.openSession().load("occ/1")).name, "with cv");
}));

test("without optimistic concurrency the last write wins", T, () => withStore("lww", async (store) => {
  const s0 = store.openSession();
  await s0.store({ v: 0 }, "lww/1");
  await s0.saveChanges();
  const a = store.openSession();
  const b = store.openSession();
  (await a.load("lww/1")).v = 1;
  (await b.load("lww/1")).v = 2;
  await a.saveChanges();
  await b.saveChanges();
  assert.equal((await store.openSession().load("lww/1")).v, 2);
}));

test("metadata round trip: @collection, @change-vector, @id, @last-modified, custom keys", T, () => withStore("meta", async (store) => {
  const startedAt = Date.now();
  const s1 = store.openSession();
  const user = new User("Meta", 1, null);
  await s1.store(user, "users/meta");
  const md = s1.advanced.getMetadataFor(user);
  md["custom-string"] = "hello";
  md["custom-number"] = 42;
  md["custom-object"] = { nested: [1, "two"] };
  await s1.saveChanges();
  // After saveChanges the session's metadata carries the server's answer.
  const cvAfterSave = s1.advanced.getChangeVectorFor(user);
  assert.equal(typeof cvAfterSave, "string");
  assert.ok(cvAfterSave.length > 0);

  const s2 = store.openSession();
  const loaded = await s2.load("users/meta");
  const m = s2.advanced.getMetadataFor(loaded);
  assert.equal(m["@collection"], "Users");
  assert.equal(m["@id"], "users/meta");
  assert.equal(typeof m["@change-vector"], "string");
  assert.equal(m["@change-vector"], cvAfterSave, "save result and load agree on the change vector");
  assert.equal(m["Raven-Node-Type"], "User");
  const lm = Date.parse(m["@last-modified"]);
  assert.ok(!Number.isNaN(lm), `@last-modified parses: ${m["@last-modified"]}`);
  assert.ok(Math.abs(lm - startedAt) < 5 * 60_000, "@last-modified is close to now");
  assert.match(m["@last-modified"], /Z$/, "UTC");
  assert.equal(m["custom-string"], "hello");
  assert.equal(m["custom-number"], 42);
  // Nested metadata objects come back wrapped (MetadataInternal); compare contents.
  assert.deepEqual([...m["custom-object"].nested], [1, "two"]);
  assert.equal(s2.advanced.getLastModifiedFor(loaded).getTime(), lm);

  // An update produces a new change vector and keeps custom metadata.
  loaded.age = 2;
  await s2.saveChanges();
  const s3 = store.openSession();
  const again = await s3.load("users/meta");
  const m3 = s3.advanced.getMetadataFor(again);
  assert.notEqual(m3["@change-vector"], cvAfterSave);
  assert.equal(m3["custom-string"], "hello");
  assert.ok(Date.parse(m3["@last-modified"]) >= lm);

  // Plain objects stored without a class land in the @empty collection
  // (no @collection metadata) unless given one.
  const s4 = store.openSession();
  await s4.store({ free: true }, "free/1");
  await s4.saveChanges();
  const s5 = store.openSession();
  const free = await s5.load("free/1");
  const fm = s5.advanced.getMetadataFor(free);
  assert.equal(fm["@id"], "free/1");
  assert.ok(fm["@collection"] === undefined || fm["@collection"] === "@empty", `@collection=${fm["@collection"]}`);
}));

test("class-typed entities come back as the right class (Raven-Node-Type, nested dates)", T, () => withStore("types", async (store) => {
  const created = new Date(Date.UTC(2021, 4, 6, 7, 8, 9, 123));
  const s1 = store.openSession();
  await s1.store(new User("Typed", 5, null), "users/typed");
  await s1.store(new Order("widget", created), "orders/1");
  await s1.saveChanges();

  const s2 = store.openSession();
  const u = await s2.load("users/typed");
  assert.ok(u instanceof User, `expected a User, got ${u?.constructor?.name}`);
  assert.equal(u.greeting(), "hi Typed");
  const o = await s2.load("orders/1");
  assert.ok(o instanceof Order, `expected an Order, got ${o?.constructor?.name}`);
  assert.ok(o.createdAt instanceof Date, "nested date restored via @nested-object-types");
  assert.equal(o.createdAt.getTime(), created.getTime());
  assert.equal(s2.advanced.getMetadataFor(o)["@collection"], "Orders");

  // documentType passed explicitly also works.
  const s3 = store.openSession();
  const u2 = await s3.load("users/typed", User);
  assert.ok(u2 instanceof User);
}, (st) => { st.conventions.registerEntityType(User); st.conventions.registerEntityType(Order); }));

test("loadStartingWith pages through ids with a prefix", T, () => withStore("prefix", async (store) => {
  const s1 = store.openSession();
  for (let i = 0; i < 7; i++) await s1.store({ i }, `pre/a/${i}`);
  await s1.store({ i: 100 }, "pre/b/1");
  await s1.store({ i: 200 }, "other/1");
  await s1.saveChanges();

  const s2 = store.openSession();
  const all = await s2.loadStartingWith("pre/a/");
  assert.equal(all.length, 7);
  assert.deepEqual(all.map((d) => d.i).sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6]);
  const page1 = await s2.loadStartingWith("pre/a/", { start: 0, pageSize: 3 });
  const page2 = await s2.loadStartingWith("pre/a/", { start: 3, pageSize: 3 });
  const page3 = await s2.loadStartingWith("pre/a/", { start: 6, pageSize: 3 });
  assert.equal(page1.length, 3);
  assert.equal(page2.length, 3);
  assert.equal(page3.length, 1);
  const seen = new Set([...page1, ...page2, ...page3].map((d) => d.i));
  assert.equal(seen.size, 7);
  const pre = await s2.loadStartingWith("pre/");
  assert.equal(pre.length, 8);
}));
