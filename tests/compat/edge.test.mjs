// Edge cases the client exercises implicitly: its HTTP cache (ETag /
// If-None-Match -> 304) must never serve stale data, ids with characters that
// need URL encoding, large documents, and concurrent writers.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { GetStatisticsOperation } from "ravendb";
import { CorvusServer, createDatabaseAndStore, openStore, countOfUserDocuments, withDatabaseStore, putDocument as put } from "./harness.mjs";

const T = { timeout: 30_000 };
let server;
before(async () => { server = await CorvusServer.create(); }, { timeout: 60_000 });
after(async () => { await server?.dispose(); });

class Item {
  constructor(k, batch, i) { this.k = k; this.batch = batch; this.i = i; }
}

const withStore = (prefix, fn, configure) => withDatabaseStore(server, prefix, fn, configure);

test("the client's HTTP cache never serves stale documents (single, many, includes)", T, () => withStore("cache", async (store) => {
  await put(store, "c/a", { v: 1, ref: "c/b" });
  await put(store, "c/b", { v: 1 });

  // Prime the cache for three URL shapes, then read them again unchanged (may be 304).
  for (let round = 0; round < 2; round++) {
    const s = store.openSession();
    assert.equal((await s.load("c/a")).v, 1);
    const many = await s.load(["c/a", "c/b"]);
    assert.equal(many["c/b"].v, 1);
    const s2 = store.openSession();
    await s2.include("ref").load("c/a");
    assert.equal((await s2.load("c/b")).v, 1);
  }
  assert.ok(store.getRequestExecutor().cache.numberOfItems > 0, "responses were cached");

  // Change both documents; every URL shape must see the new values.
  await put(store, "c/a", { v: 2, ref: "c/b" });
  await put(store, "c/b", { v: 2 });
  const s = store.openSession();
  assert.equal((await s.load("c/a")).v, 2, "single load after update");
  const s3 = store.openSession();
  const many = await s3.load(["c/a", "c/b"]);
  assert.equal(many["c/a"].v, 2);
  assert.equal(many["c/b"].v, 2, "multi load after update");
  const s4 = store.openSession();
  await s4.include("ref").load("c/a");
  assert.equal((await s4.load("c/b")).v, 2, "included document after update");
  assert.equal(s4.advanced.numberOfRequests, 1);

  // Only the included doc changes: the include response must change too.
  await put(store, "c/b", { v: 3 });
  const s5 = store.openSession();
  await s5.include("ref").load("c/a");
  assert.equal((await s5.load("c/b")).v, 3, "include-only change is not hidden by a 304");

  // Deleted documents are not resurrected from the cache.
  const del = store.openSession();
  del.delete("c/a");
  await del.saveChanges();
  assert.equal(await store.openSession().load("c/a"), null);
  const m = await store.openSession().load(["c/a", "c/b"]);
  assert.equal(m["c/a"], null);
  assert.equal(m["c/b"].v, 3);
}));

test("ids with characters that need URL encoding round-trip", T, () => withStore("ids", async (store) => {
  const ids = [
    "weird/with space",
    "weird/plus+sign",
    "weird/amp&eq=q?hash#",
    "weird/percent%20literal",
    "weird/ünïcödé/日本",
    "weird/quote\"back\\slash",
    "weird/emoji/🙂",
  ];
  const s1 = store.openSession();
  for (const id of ids) await s1.store({ id_copy: id }, id);
  await s1.saveChanges();

  for (const id of ids) {
    const s = store.openSession();
    const doc = await s.load(id);
    assert.ok(doc, `load(${JSON.stringify(id)})`);
    assert.equal(doc.id_copy, id);
    assert.equal(s.advanced.getMetadataFor(doc)["@id"], id);
    assert.equal(await store.openSession().advanced.exists(id), true, `exists(${JSON.stringify(id)})`);
  }
  const all = await store.openSession().load(ids);
  for (const id of ids) assert.equal(all[id]?.id_copy, id, `multi-load ${JSON.stringify(id)}`);
  const prefixed = await store.openSession().loadStartingWith("weird/");
  assert.equal(prefixed.length, ids.length);

  const d = store.openSession();
  for (const id of ids) d.delete(id);
  await d.saveChanges();
  const gone = await store.openSession().load(ids);
  for (const id of ids) assert.equal(gone[id], null, `deleted ${JSON.stringify(id)}`);
}));

test("a large document (about 2 MB) round-trips intact", T, () => withStore("large", async (store) => {
  const big = "x".repeat(1024 * 1024) + "é".repeat(1000);
  const arr = Array.from({ length: 20_000 }, (_, i) => ({ i, s: `item-${i}` }));
  await put(store, "big/1", { big, arr });
  const doc = await store.openSession().load("big/1");
  assert.equal(doc.big.length, big.length);
  assert.equal(doc.big, big);
  assert.equal(doc.arr.length, arr.length);
  assert.deepEqual(doc.arr[19_999], { i: 19_999, s: "item-19999" });
}));

test("JSON values keep their types (numbers, null, nested arrays, empty containers)", T, () => withStore("json", async (store) => {
  const value = {
    int: 42, neg: -7, zero: 0, float: 3.25, big: 9007199254740991, exp: 1.5e-10,
    t: true, f: false, n: null, emptyObj: {}, emptyArr: [], str: "",
    nested: [[1, [2, [3]]], { a: { b: { c: "deep" } } }],
    esc: "line\nbreak\ttab \u0001 \"q\" \\",
  };
  await put(store, "json/1", value);
  const doc = await store.openSession().load("json/1");
  for (const [k, v] of Object.entries(value)) assert.deepEqual(doc[k], v, k);
}));

test("concurrent sessions writing different documents all succeed", T, () => withStore("conc", async (store) => {
  const N = 40;
  await Promise.all(Array.from({ length: N }, async (_, i) => {
    const s = store.openSession();
    await s.store({ i }, `conc/${i}`);
    await s.saveChanges();
  }));
  const docs = await store.openSession().load(Array.from({ length: N }, (_, i) => `conc/${i}`));
  for (let i = 0; i < N; i++) assert.equal(docs[`conc/${i}`]?.i, i);
  const stats = await store.maintenance.send(new GetStatisticsOperation());
  assert.equal(stats.countOfDocuments, N);
}));

test("concurrent optimistic writers to one document: exactly one wins per round", T, () => withStore("race", async (store) => {
  await put(store, "race/1", { winner: null, n: 0 });
  for (let round = 0; round < 3; round++) {
    const sessions = Array.from({ length: 6 }, () => {
      const s = store.openSession();
      s.advanced.useOptimisticConcurrency = true;
      return s;
    });
    const docs = await Promise.all(sessions.map((s) => s.load("race/1")));
    docs.forEach((d, i) => { d.winner = i; d.n += 1; });
    const results = await Promise.allSettled(sessions.map((s) => s.saveChanges()));
    const ok = results.filter((r) => r.status === "fulfilled").length;
    const conflicts = results.filter((r) => r.status === "rejected" && r.reason.name === "ConcurrencyException").length;
    assert.equal(ok, 1, `round ${round}: ${JSON.stringify(results.map((r) => r.status === "rejected" ? r.reason.name : "ok"))}`);
    assert.equal(conflicts, sessions.length - 1);
    const now = await store.openSession().load("race/1");
    assert.equal(now.n, round + 1);
  }
}));

test("HiLo under concurrency: parallel stores never hand out the same id", { timeout: 60_000 }, async () => {
  const { store: admin, database } = await createDatabaseAndStore(server, "hilopar");
  admin.dispose();
  const stores = Array.from({ length: 4 }, () => openStore(server, database));
  try {
    const perStore = await Promise.all(stores.map(async (st, k) => {
      const ids = [];
      for (let batch = 0; batch < 3; batch++) {
        const s = st.openSession();
        const ents = [];
        for (let i = 0; i < 25; i++) {
          const e = new Item(k, batch, i);
          await s.store(e);
          ents.push(e);
        }
        await s.saveChanges();
        ids.push(...ents.map((e) => s.advanced.getDocumentId(e)));
      }
      return ids;
    }));
    const all = perStore.flat();
    assert.equal(all.length, 4 * 3 * 25);
    assert.equal(new Set(all).size, all.length, "ids are unique");
    assert.equal(await countOfUserDocuments(stores[0]), all.length);
  } finally {
    for (const st of stores) st.dispose();
  }
});

test("malformed requests get a client error, not a crash", T, () => withStore("bad", async (store, db) => {
  const bad = async (method, path, body, headers = {}) => {
    const res = await fetch(server.url + path, { method, body, headers: { "Content-Type": "application/json", ...headers } });
    const text = await res.text();
    return { status: res.status, text };
  };
  for (const [method, path, body] of [
    ["POST", `/databases/${db}/bulk_docs`, "{not json"],
    ["POST", `/databases/${db}/bulk_docs`, JSON.stringify({ Commands: [{ Type: "PUT", Id: "x" }] })],
    ["POST", `/databases/${db}/bulk_docs`, JSON.stringify({ Commands: [{ Type: "NOPE", Id: "x" }] })],
    ["POST", `/databases/${db}/bulk_docs`, JSON.stringify({ Commands: "nope" })],
    ["PUT", `/databases/${db}/docs?id=x`, "[1,2]"],
    ["PUT", `/databases/${db}/docs`, "{}"],
    ["GET", `/databases/${db}/docs?start=abc`, undefined],
    ["PUT", "/admin/databases", JSON.stringify({})],
  ]) {
    const r = await bad(method, path, body);
    assert.ok(r.status >= 400 && r.status < 500, `${method} ${path} ${body} -> ${r.status} ${r.text}`);
    const json = JSON.parse(r.text);
    assert.equal(typeof json.Type, "string");
    assert.equal(typeof json.Message, "string");
  }
  // Still serving.
  await put(store, "ok/1", { fine: true });
  assert.equal((await store.openSession().load("ok/1")).fine, true);
  assert.equal(await store.openSession().load("ok/2"), null);
}));
