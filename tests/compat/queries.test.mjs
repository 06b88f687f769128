// session.query(...) through the unmodified client (REST.md §4): every
// whereXxx the issue names, ordering, paging, projections, includes, count/
// any/first/single, raw RQL with parameters, statistics and staleness, a bad
// query's 400, and cached results (ETag / 304) on a repeated query.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  DeleteByQueryOperation, DeleteIndexOperation, GetIndexesOperation, GetIndexingStatusOperation, GetIndexNamesOperation,
  GetIndexStatisticsOperation, StartIndexingOperation, StopIndexingOperation, GetTermsOperation,
  GetCollectionStatisticsOperation, PutCompareExchangeValueOperation, CmpXchg, ResetIndexOperation,
} from "ravendb";
import { CorvusServer, rawRequest, withDatabaseStore } from "./harness.mjs";

const T = { timeout: 120_000 };
let server;

class Company {
  constructor(name) {
    this.name = name;
  }
}

class Order {
  constructor(company, lines, total) {
    this.company = company;
    this.lines = lines;
    this.total = total;
  }
}

class User {
  constructor(name, age, city, tags, companyId) {
    this.name = name;
    this.age = age;
    this.address = { city };
    this.tags = tags;
    this.companyId = companyId;
  }
}

before(async () => { server = await CorvusServer.create(); }, { timeout: 60_000 });
after(async () => { await server?.dispose(); });

async function seed(store) {
  const session = store.openSession();
  await session.store(new Company("Acme"), "companies/1");
  await session.store(new Company("Initech"), "companies/2");
  const people = [
    ["Ann", 31, "Paris", ["a", "b"], "companies/1"],
    ["bob", 25, "London", ["b"], "companies/2"],
    ["Carl", 40, "Paris", ["c"], "companies/1"],
    ["dana", 25, "Berlin", [], "companies/2"],
    ["Eve", 58, "Rome", ["a", "c"], null],
  ];
  for (let i = 0; i < people.length; i++) await session.store(new User(...people[i]), "users/" + (i + 1));
  await session.store(new Order("companies/1", [{ product: "p1", qty: 1 }, { product: "p2", qty: 3 }], 10.5), "orders/1");
  await session.store(new Order("companies/2", [{ product: "p3", qty: 2 }], 99), "orders/2");
  await session.saveChanges();
}

const names = (users) => users.map((u) => u.name);

test("queries: where, order, paging, count, any, first, single", T, async () => {
  await withDatabaseStore(server, "queries", async (store) => {
    await seed(store);
    const s = store.openSession();
    assert.deepEqual(names(await s.query(User).whereEquals("name", "ANN").all()), ["Ann"]);
    assert.deepEqual(names(await s.query(User).whereIn("address.city", ["Rome", "London"]).orderBy("name").all()), ["bob", "Eve"]);
    assert.deepEqual(names(await s.query(User).whereBetween("age", 25, 31).orderBy("age").orderBy("name").all()), ["bob", "dana", "Ann"]);
    assert.deepEqual(names(await s.query(User).whereStartsWith("name", "c").all()), ["Carl"]);
    assert.deepEqual(names(await s.query(User).whereEndsWith("name", "E").orderBy("name").all()), ["Eve"]);
    assert.deepEqual(names(await s.query(User).whereGreaterThan("age", 30).andAlso().whereLessThan("age", 50).orderByDescending("age").all()), ["Carl", "Ann"]);
    assert.deepEqual(names(await s.query(User).whereExists("companyId").not().whereEquals("companyId", null).orderBy("name").all()).length, 4);
    assert.deepEqual(names(await s.query(User).whereEquals("tags", "c").orderBy("name").all()), ["Carl", "Eve"]);
    assert.deepEqual(names(await s.query(User).containsAll("tags", ["a", "c"]).all()), ["Eve"]);
    assert.deepEqual(names(await s.query(User).whereNotEquals("address.city", "Paris").orderBy("age", "Long").orderByDescending("name").all()), ["dana", "bob", "Eve"]);
    assert.deepEqual(names(await s.query(User).orderBy("name").skip(1).take(2).all()), ["bob", "Carl"]);
    assert.deepEqual(names(await s.query(User).orderByDescending("age", "Long").take(1).all()), ["Eve"]);
    assert.equal(await s.query(User).whereEquals("address.city", "Paris").count(), 2);
    assert.equal(await s.query(User).whereEquals("address.city", "Oslo").any(), false);
    assert.equal((await s.query(User).whereEquals("age", 25).orderBy("name").first()).name, "bob");
    assert.equal((await s.query(User).whereEquals("name", "eve").single()).age, 58);
    await assert.rejects(s.query(User).whereEquals("age", 25).single(), /more than/i);
    const shuffled = names(await s.query(User).randomOrdering("seed").all());
    assert.deepEqual([...shuffled].sort(), ["Ann", "Carl", "Eve", "bob", "dana"]);
    assert.deepEqual(names(await s.query(User).randomOrdering("seed").all()), shuffled);
    const orders = await s.query(Order).whereEquals("lines[].product", "p2").all();
    assert.deepEqual(orders.map((o) => o.total), [10.5]);
  });
});

test("queries: projections, distinct, includes, raw RQL, statistics", T, async () => {
  await withDatabaseStore(server, "projections", async (store) => {
    await seed(store);
    const s = store.openSession();
    const projected = await s.query(User).whereEquals("address.city", "Paris").orderBy("name").selectFields(["name", "age"]).all();
    assert.deepEqual(projected.map((p) => [p.name, p.age]), [["Ann", 31], ["Carl", 40]]);
    const cities = await s.query(User).selectFields("address.city").distinct().all();
    assert.equal(cities.length, 4);

    const withCompany = await s.query(User).include("companyId").whereEquals("name", "Ann").all();
    assert.equal(withCompany.length, 1);
    const before = s.advanced.numberOfRequests;
    const company = await s.load("companies/1", Company);
    assert.equal(company.name, "Acme");
    assert.equal(s.advanced.numberOfRequests, before, "the included company came with the query");

    const raw = await s.advanced.rawQuery("from Users where age >= $min and address.city != $city order by age desc", User)
      .addParameter("min", 30).addParameter("city", "Rome").all();
    assert.deepEqual(names(raw), ["Carl", "Ann"]);
    const loaded = await s.advanced.rawQuery("from Orders as o where o.total > 50 load o.company as c select o.total as Total, c.name as Company").all();
    assert.deepEqual(loaded.map((x) => [x.Total, x.Company]), [[99, "Initech"]]);

    let stats;
    const results = await s.query(User).whereGreaterThanOrEqual("age", 40).statistics((st) => { stats = st; }).waitForNonStaleResults().all();
    assert.equal(results.length, 2);
    assert.equal(stats.totalResults, 2);
    assert.equal(stats.isStale, false);
    assert.match(stats.indexName, /^Auto\/Users\/By/);
    let collectionStats;
    await s.query(User).statistics((st) => { collectionStats = st; }).all();
    assert.equal(collectionStats.indexName, "collection/Users");
    assert.equal(collectionStats.totalResults, 5);
  });
});

test("queries: new documents are found once indexed; updates and deletes leave the index", T, async () => {
  await withDatabaseStore(server, "freshness", async (store) => {
    await seed(store);
    const s1 = store.openSession();
    assert.equal((await s1.query(User).whereEquals("address.city", "Paris").waitForNonStaleResults().all()).length, 2);
    const s2 = store.openSession();
    await s2.store(new User("Zed", 33, "Paris", [], null), "users/9");
    const carl = await s2.load("users/3", User);
    carl.address.city = "Madrid";
    await s2.delete("users/1");
    await s2.saveChanges();
    const s3 = store.openSession();
    assert.deepEqual(names(await s3.query(User).whereEquals("address.city", "Paris").waitForNonStaleResults().all()), ["Zed"]);
    assert.deepEqual(names(await s3.query(User).whereEquals("address.city", "madrid").waitForNonStaleResults().all()), ["Carl"]);
  });
});

test("queries: a malformed query gets a 400 naming the position; a missing parameter too", T, async () => {
  await withDatabaseStore(server, "badqueries", async (store, database) => {
    const s = store.openSession();
    await assert.rejects(s.advanced.rawQuery("from Users where").all(), (e) => {
      assert.match(e.message, /offset 16/);
      return true;
    });
    await assert.rejects(s.advanced.rawQuery("from Users where name = $missing").all(), /missing/);
    const r = await rawRequest(server, "POST", `/databases/${database}/queries`, { body: { Query: "from Users where age >" } });
    assert.equal(r.status, 400);
    assert.equal(r.json.Type, "Raven.Client.Exceptions.InvalidQueryException");
  });
});

test("queries: a repeated query is answered 304 while unchanged", T, async () => {
  await withDatabaseStore(server, "cached", async (store, database) => {
    await seed(store);
    const body = { Query: "from Users where age > $a", QueryParameters: { a: 20 }, WaitForNonStaleResults: true };
    const first = await rawRequest(server, "POST", `/databases/${database}/queries`, { body });
    assert.equal(first.status, 200);
    const etag = first.headers.get("etag");
    assert.ok(etag);
    const again = await rawRequest(server, "POST", `/databases/${database}/queries`, { body, headers: { "If-None-Match": etag } });
    assert.equal(again.status, 304);
    const s = store.openSession();
    await s.store(new User("New", 21, "Oslo", [], null), "users/100");
    await s.saveChanges();
    const changed = await rawRequest(server, "POST", `/databases/${database}/queries`, { body, headers: { "If-None-Match": etag } });
    assert.equal(changed.status, 200);
    assert.equal(changed.json.TotalResults, 6);
  });
});

test("indexes: listed, described, paused and resumed, deleted; delete by query as an operation", T, async () => {
  await withDatabaseStore(server, "indexadmin", async (store, database) => {
    await seed(store);
    const s = store.openSession();
    assert.equal((await s.query(User).whereEquals("address.city", "Paris").waitForNonStaleResults().all()).length, 2);
    const names = await store.maintenance.send(new GetIndexNamesOperation(0, 10));
    assert.deepEqual(names, ["Auto/Users/Byaddress.city"]);
    const [definition] = await store.maintenance.send(new GetIndexesOperation(0, 10));
    assert.equal(definition.name, "Auto/Users/Byaddress.city");
    const stats = await store.maintenance.send(new GetIndexStatisticsOperation("Auto/Users/Byaddress.city"));
    assert.equal(stats.entriesCount, 5);
    assert.equal(stats.isStale, false);

    // A paused index does not see new documents; resumed, it catches up.
    await store.maintenance.send(new StopIndexingOperation());
    assert.equal((await store.maintenance.send(new GetIndexingStatusOperation())).status, "Paused");
    const w = store.openSession();
    await w.store(new User("Paula", 20, "Paris", [], null), "users/50");
    await w.saveChanges();
    let st;
    const stale = await store.openSession().query(User).whereEquals("address.city", "Paris").statistics((x) => { st = x; }).all();
    assert.equal(st.isStale, true);
    assert.equal(stale.length, 2);
    await store.maintenance.send(new StartIndexingOperation());
    assert.equal((await store.openSession().query(User).whereEquals("address.city", "Paris").waitForNonStaleResults().all()).length, 3);

    // Reset (the RESET method): the index is built again from the first document.
    await store.maintenance.send(new ResetIndexOperation("Auto/Users/Byaddress.city"));
    assert.equal((await store.openSession().query(User).whereEquals("address.city", "Paris").waitForNonStaleResults().all()).length, 3);
    assert.equal((await store.maintenance.send(new GetIndexStatisticsOperation("Auto/Users/Byaddress.city"))).entriesCount, 6);
    const unknown = await rawRequest(server, "RESET", `/databases/${database}/indexes?name=Auto%2FUsers%2FByNothing`);
    assert.equal(unknown.status, 404);
    assert.match(unknown.json.Type, /IndexDoesNotExistException/);

    // Delete by query removes exactly the matches, and the index follows.
    const op = await store.operations.send(new DeleteByQueryOperation("from Users where address.city = 'Paris'"));
    await op.waitForCompletion();
    const after = store.openSession();
    assert.equal((await after.query(User).whereEquals("address.city", "Paris").waitForNonStaleResults().all()).length, 0);
    assert.equal(await after.query(User).count(), 3);

    await store.maintenance.send(new DeleteIndexOperation("Auto/Users/Byaddress.city"));
    assert.deepEqual(await store.maintenance.send(new GetIndexNamesOperation(0, 10)), []);
    const missing = await rawRequest(server, "DELETE", `/databases/${database}/indexes?name=Auto%2FUsers%2FByaddress.city`);
    assert.equal(missing.status, 404);
    assert.match(missing.json.Type, /IndexDoesNotExistException/);
  });
});

test("queries: include counters comes with the results (no extra request)", T, async () => {
  await withDatabaseStore(server, "countersinclude", async (store) => {
    await seed(store);
    const w = store.openSession();
    w.countersFor("users/1").increment("likes", 7);
    w.countersFor("users/1").increment("views", 2);
    await w.saveChanges();
    const s = store.openSession();
    const users = await s.query(User).whereEquals("name", "Ann").include((i) => i.includeCounter("likes")).all();
    assert.equal(users.length, 1);
    const before = s.advanced.numberOfRequests;
    assert.equal(await s.countersFor(users[0]).get("likes"), 7);
    assert.equal(s.advanced.numberOfRequests, before);
    const all = store.openSession();
    const again = await all.query(User).whereEquals("name", "Ann").include((i) => i.includeAllCounters()).all();
    const n = all.advanced.numberOfRequests;
    assert.deepEqual(await all.countersFor(again[0]).getAll(), { likes: 7, views: 2 });
    assert.equal(all.advanced.numberOfRequests, n);

    // Counters of a related document (the company the user points at), with the user's own.
    const c = store.openSession();
    c.countersFor("companies/1").increment("stars", 5);
    await c.saveChanges();
    const related = store.openSession();
    const withCompany = await related.query(User).whereEquals("name", "Ann")
      .include((i) => i.includeDocuments("companyId").includeCounter("companyId", "stars").includeCounter("likes")).all();
    const r = related.advanced.numberOfRequests;
    assert.equal(await related.countersFor("companies/1").get("stars"), 5);
    assert.equal(await related.countersFor(withCompany[0]).get("likes"), 7);
    assert.equal(related.advanced.numberOfRequests, r);
  });
});

test("queries: lazy queries go out together in one multi_get", T, async () => {
  await withDatabaseStore(server, "lazyqueries", async (store) => {
    await seed(store);
    const s = store.openSession();
    await s.query(User).whereEquals("address.city", "Paris").waitForNonStaleResults().all();  // builds the index
    const before = s.advanced.numberOfRequests;
    const paris = s.query(User).whereEquals("address.city", "Paris").orderBy("name").lazily();
    const count = s.query(User).whereGreaterThan("age", 30).countLazily();
    await s.advanced.eagerly.executeAllPendingLazyOperations();
    assert.equal(s.advanced.numberOfRequests, before + 1);
    assert.deepEqual(names(await paris.getValue()), ["Ann", "Carl"]);
    assert.equal(await count.getValue(), 3);
  });
});

test("queries: include cmpxchg brings the compare-exchange values along", T, async () => {
  await withDatabaseStore(server, "cmpxchginclude", async (store) => {
    await seed(store);
    const cw = store.openSession({ transactionMode: "ClusterWide" });
    cw.advanced.clusterTransaction.createCompareExchangeValue("emails/ann", { owner: "users/1" });
    await cw.saveChanges();
    const w = store.openSession();
    const ann = await w.load("users/1", User);
    ann.email = "emails/ann";
    await w.saveChanges();
    const s = store.openSession({ transactionMode: "ClusterWide" });
    const users = await s.query(User).whereEquals("name", "Ann").include((i) => i.includeCompareExchangeValue("email")).all();
    assert.equal(users.length, 1);
    const before = s.advanced.numberOfRequests;
    const value = await s.advanced.clusterTransaction.getCompareExchangeValue("emails/ann");
    assert.equal(value.value.owner, "users/1");
    assert.equal(s.advanced.numberOfRequests, before);
  });
});

test("indexes: terms of an auto-index field; collection statistics", T, async () => {
  await withDatabaseStore(server, "terms", async (store) => {
    await seed(store);
    await store.openSession().query(User).whereEquals("name", "x").waitForNonStaleResults().all();
    const terms = await store.maintenance.send(new GetTermsOperation("Auto/Users/Byname", "name", null));
    assert.deepEqual(terms, ["ann", "bob", "carl", "dana", "eve"]);
    const stats = await store.maintenance.send(new GetCollectionStatisticsOperation());
    assert.equal(stats.countOfDocuments, 9);
    assert.deepEqual(stats.collections, { Users: 5, Companies: 2, Orders: 2 });
  });
});

test("queries: where compares with compare-exchange values; select projects counters", T, async () => {
  await withDatabaseStore(server, "cmpxchgcounters", async (store, database) => {
    await seed(store);
    await store.operations.send(new PutCompareExchangeValueOperation("best", "Carl", 0));
    await store.operations.send(new PutCompareExchangeValueOperation("city", "Paris", 0));
    const s = store.openSession();
    const q = s.query(User).whereEquals("name", CmpXchg.value("best"));
    assert.match(q.getIndexQuery().query, /name = cmpxchg\(\$p0\)/);
    assert.deepEqual(names(await q.all()), ["Carl"]);
    // Unchanged: 304 to the result's ETag; a changed entry changes the ETag (below).
    const body = { Query: "from Users where name = cmpxchg($k)", QueryParameters: { k: "best" } };
    const first = await rawRequest(server, "POST", `/databases/${database}/queries`, { body });
    const etag = first.headers.get("etag");
    assert.ok(etag);
    const cached = await rawRequest(server, "POST", `/databases/${database}/queries`, { body, headers: { "If-None-Match": etag } });
    assert.equal(cached.status, 304);
    const paris = await s.advanced.rawQuery("from Users where address.city = cmpxchg('city') order by name", User).all();
    assert.deepEqual(names(paris), ["Ann", "Carl"]);
    // A missing entry is null: it matches nothing, and the answer follows a changed value (not cached).
    assert.equal((await s.query(User).whereEquals("name", CmpXchg.value("nobody")).all()).length, 0);
    const current = await store.operations.send(new PutCompareExchangeValueOperation("best", "Eve", 1));
    assert.ok(!current.successful);  // wrong index: the value stays
    const index = (await store.operations.send(new PutCompareExchangeValueOperation("best", "Eve", current.index))).index;
    assert.ok(index > current.index);
    const again = store.openSession();
    assert.deepEqual(names(await again.query(User).whereEquals("name", CmpXchg.value("best")).all()), ["Eve"]);
    const changed = await rawRequest(server, "POST", `/databases/${database}/queries`, { body, headers: { "If-None-Match": etag } });
    assert.equal(changed.status, 200);
    assert.equal(changed.json.Results[0].name, "Eve");

    const w = store.openSession();
    w.countersFor("users/1").increment("likes", 7);
    w.countersFor("users/3").increment("likes", 2);
    w.countersFor("users/3").increment("views", 9);
    await w.saveChanges();
    const r = store.openSession();
    const rows = await r.advanced.rawQuery(
      "from Users as u where address.city = 'Paris' order by name select name, counter('likes'), counter(u, 'views') as seen",
    ).all();
    assert.deepEqual(rows.map(({ name, likes, seen }) => ({ name, likes, seen })),
      [{ name: "Ann", likes: 7, seen: null }, { name: "Carl", likes: 2, seen: 9 }]);
  });
});

test("queries: timings() reports each phase; a sorted page off the index equals the same slice of the whole sort", T, async () => {
  await withDatabaseStore(server, "timings", async (store) => {
    const session = store.openSession();
    for (let i = 0; i < 300; i++) {
      // Ties on age, mixed-case names, some without an age.
      const user = new User((i % 2 ? "User " : "user ") + (i % 17), i % 10 === 0 ? undefined : (i * 7) % 41, "City" + (i % 3), [], null);
      await session.store(user, "users/" + i);
    }
    await session.saveChanges();

    const s = store.openSession();
    let timings;
    const paris = await s.query(User).timings((t) => { timings = t; }).whereNotEquals("name", "nobody").all();
    assert.equal(paris.length, 300);
    assert.ok(timings.durationInMs > 0, "a query that ran took some time");
    assert.deepEqual(Object.keys(timings.timings).sort(), ["includes", "optimizer", "query", "retriever"]);

    const key = (u) => `${u.name}|${u.age}`;
    for (const [field, type, descending] of [["age", "Long", false], ["age", "Long", true], ["name", "String", false],
                                             ["name", "String", true]]) {
      const ordered = (q) => (descending ? q.orderByDescending(field, type) : q.orderBy(field, type));
      const all = (await ordered(s.query(User)).waitForNonStaleResults().all()).map(key);
      for (const [skip, take] of [[0, 5], [37, 20], [290, 20]]) {
        let stats;
        const page = await ordered(s.query(User)).statistics((st) => { stats = st; }).skip(skip).take(take).all();
        assert.deepEqual(page.map(key), all.slice(skip, skip + take), `${field} ${descending ? "desc" : "asc"} ${skip}`);
        assert.equal(stats.totalResults, 300);
      }
    }
  });
});
