// The official client against a three-node cluster (cluster.mjs): a
// replication-factor-3 database through DocumentStore([A, B, C]),
// compare-exchange through stores pinned to each node, cluster-wide sessions
// written on one node and read on another (documents and compare-exchange
// values), ClusterTransactionConcurrencyException on concurrent changes, the
// client following its group (a node added: Refresh-Topology; a store given
// only a node outside the group; a node deleted from the group: 410), a
// database deleted everywhere, a cluster command during an election, and
// failover when the node the store uses is killed (-9).
//
// Documents written outside a cluster-wide transaction are not replicated
// between members yet, so every read from another node here is of a
// cluster-wide write.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  DocumentStore,
  CreateDatabaseOperation,
  DeleteDatabasesOperation,
  AddDatabaseNodeOperation,
  GetDatabaseRecordOperation,
  PutCompareExchangeValueOperation,
  GetCompareExchangeValueOperation,
  GetCompareExchangeValuesOperation,
  DeleteCompareExchangeValueOperation,
} from "ravendb";
import { uniqueDbName, rejectsNamed } from "./harness.mjs";
import { CorvusCluster, eventually, http } from "./cluster.mjs";

const T = { timeout: 60_000 };
let cluster;

before(async () => { cluster = await CorvusCluster.create(3); }, { timeout: 120_000 });
after(async () => { await cluster?.dispose(); });

class Order {
  constructor(total, customer) {
    this.total = total;
    this.customer = customer;
  }
}

// Stores opened by a test; disposed when it ends.
async function withStores(body) {
  const stores = [];
  const open = (urls, database, { pinned = false } = {}) => {
    const store = new DocumentStore(urls, database);
    // Pinned: talk to exactly this node (no /topology), as a store pointed
    // at one node of the cluster that must not fail over.
    if (pinned) store.conventions.disableTopologyUpdates = true;
    store.initialize();
    stores.push(store);
    return store;
  };
  try {
    return await body(open);
  } finally {
    for (const s of stores) s.dispose();
  }
}

// A database with replication factor `rf`, created through the cluster executor.
async function createDatabase(prefix, rf) {
  const db = uniqueDbName(prefix);
  const store = new DocumentStore(cluster.urls, db).initialize();
  try {
    const result = await store.maintenance.server.send(new CreateDatabaseOperation({ databaseName: db }, rf));
    return { db, result };
  } finally {
    store.dispose();
  }
}

test("a replication-factor-3 database through DocumentStore([A, B, C]): all three members, in the client's topology", T, async () => {
  const { db, result } = await createDatabase("rf3", 3);
  assert.equal(result.name, db);
  assert.deepEqual([...result.topology.members].sort(), cluster.tags);
  assert.deepEqual([...result.nodesAddedTo].sort(), [...cluster.urls].sort());

  await withStores(async (open) => {
    const store = open(cluster.urls, db);
    const s = store.openSession();
    await s.store(new Order(10, "a"), "orders/rf3");
    await s.saveChanges();
    assert.equal((await store.openSession().load("orders/rf3")).total, 10);

    const nodes = store.getRequestExecutor().getTopologyNodes();
    assert.deepEqual(nodes.map((n) => n.clusterTag).sort(), cluster.tags);
    for (const n of nodes) {
      assert.equal(n.serverRole, "Member");
      assert.equal(n.database, db);
      assert.equal(n.url, cluster.node(n.clusterTag).url);
    }
    const record = await store.maintenance.server.send(new GetDatabaseRecordOperation(db));
    assert.deepEqual([...record.topology.members].sort(), cluster.tags);

    // Every node serves it: stores pinned to each one read their statistics.
    for (const node of cluster.nodes) {
      const stats = await http(node.url, "GET", `/databases/${db}/stats`);
      assert.equal(stats.status, 200, `${node.tag}: ${stats.text}`);
    }
  });
});

test("compare-exchange through stores pinned to each node: put, get, get many, delete, index checks", T, async () => {
  const { db } = await createDatabase("cmpxchg", 3);
  await withStores(async (open) => {
    const [a, b, c] = cluster.nodes.map((n) => open(n.url, db, { pinned: true }));

    const put = await a.operations.send(new PutCompareExchangeValueOperation("users/ayende", { email: "a@x" }, 0));
    assert.equal(put.successful, true);
    assert.ok(put.index > 0);

    const read = await b.operations.send(new GetCompareExchangeValueOperation("users/ayende"));
    assert.equal(read.key, "users/ayende");
    assert.equal(read.index, put.index);
    assert.deepEqual(read.value, { email: "a@x" });

    // Create-only (index 0) through another node loses; the current value comes back.
    const lost = await c.operations.send(new PutCompareExchangeValueOperation("users/ayende", { email: "c@x" }, 0));
    assert.equal(lost.successful, false);
    assert.equal(lost.index, put.index);
    assert.deepEqual(lost.value, { email: "a@x" });

    const updated = await c.operations.send(new PutCompareExchangeValueOperation("users/ayende", { email: "c@x" }, put.index));
    assert.equal(updated.successful, true);
    assert.ok(updated.index > put.index);
    // A stale index (the first one) now fails, from any node.
    const stale = await a.operations.send(new PutCompareExchangeValueOperation("users/ayende", { email: "stale" }, put.index));
    assert.equal(stale.successful, false);
    assert.equal(stale.index, updated.index);

    await b.operations.send(new PutCompareExchangeValueOperation("users/oren", { email: "o@x" }, 0));
    const many = await a.operations.send(new GetCompareExchangeValuesOperation({ keys: ["users/ayende", "users/oren", "users/none"] }));
    // RavenDB lists a missing key among several with no value.
    assert.deepEqual(Object.keys(many).sort(), ["users/ayende", "users/none", "users/oren"]);
    assert.equal(many["users/none"].value, null);
    assert.deepEqual(many["users/ayende"].value, { email: "c@x" });
    assert.equal(many["users/ayende"].index, updated.index);
    assert.deepEqual(many["users/oren"].value, { email: "o@x" });
    const prefixed = await c.operations.send(new GetCompareExchangeValuesOperation({ startWith: "users/", start: 0, pageSize: 10 }));
    assert.deepEqual(Object.keys(prefixed).sort(), ["users/ayende", "users/oren"]);

    const wrongDelete = await b.operations.send(new DeleteCompareExchangeValueOperation("users/ayende", put.index));
    assert.equal(wrongDelete.successful, false);
    const deleted = await b.operations.send(new DeleteCompareExchangeValueOperation("users/ayende", updated.index));
    assert.equal(deleted.successful, true);
    for (const s of [a, b, c]) {
      assert.equal((await s.operations.send(new GetCompareExchangeValueOperation("users/ayende"))) ?? null, null);
    }
  });
});

test("a cluster-wide session on one node, read back in cluster-wide sessions on the others", T, async () => {
  const { db } = await createDatabase("clusterwide", 3);
  await withStores(async (open) => {
    const [a, b, c] = cluster.nodes.map((n) => open(n.url, db, { pinned: true }));

    const s = a.openSession({ transactionMode: "ClusterWide" });
    await s.store(new Order(42, "customers/1"), "orders/1");
    s.advanced.clusterTransaction.createCompareExchangeValue("orders/by-customer/customers/1", "orders/1");
    await s.saveChanges();

    for (const store of [b, c]) {
      const r = store.openSession({ transactionMode: "ClusterWide" });
      const order = await r.load("orders/1", Order);
      assert.ok(order, "the cluster-wide write is on every member");
      assert.ok(order instanceof Order);
      assert.equal(order.total, 42);
      const ref = await r.advanced.clusterTransaction.getCompareExchangeValue("orders/by-customer/customers/1");
      assert.ok(ref, "the compare-exchange value of the transaction");
      assert.equal(ref.value, "orders/1");
      // And through a normal session too.
      assert.equal((await store.openSession().load("orders/1")).total, 42);
    }

    // An update in a cluster-wide session on B (loaded there) and a delete on C.
    const u = b.openSession({ transactionMode: "ClusterWide" });
    const order = await u.load("orders/1", Order);
    order.total = 43;
    await u.saveChanges();
    assert.equal((await eventually(async () => {
      const o = await a.openSession().load("orders/1");
      return o?.total === 43 ? o : null;
    }))?.total, 43, "the update reached A");

    const d = c.openSession({ transactionMode: "ClusterWide" });
    d.delete(await d.load("orders/1"));
    const refToDelete = await d.advanced.clusterTransaction.getCompareExchangeValue("orders/by-customer/customers/1");
    d.advanced.clusterTransaction.deleteCompareExchangeValue(refToDelete);
    await d.saveChanges();
    for (const store of [a, b, c]) {
      assert.equal(await eventually(async () => (await store.openSession().load("orders/1")) === null), true);
      // One missing key is a 404 in RavenDB: the client returns no value (undefined).
      assert.equal((await store.operations.send(new GetCompareExchangeValueOperation("orders/by-customer/customers/1"))) ?? null, null);
    }
  });
});

test("concurrent cluster-wide changes: the second one throws ClusterTransactionConcurrencyException", T, async () => {
  const { db } = await createDatabase("conflict", 3);
  await withStores(async (open) => {
    const [a, b, c] = cluster.nodes.map((n) => open(n.url, db, { pinned: true }));
    const init = a.openSession({ transactionMode: "ClusterWide" });
    await init.store(new Order(1, "customers/1"), "orders/c");
    await init.saveChanges();

    // Both load the same version on different nodes; the first save wins.
    const first = b.openSession({ transactionMode: "ClusterWide" });
    const second = c.openSession({ transactionMode: "ClusterWide" });
    const o1 = await first.load("orders/c", Order);
    const o2 = await second.load("orders/c", Order);
    assert.ok(o1 && o2);
    o1.total = 2;
    o2.total = 3;
    await first.saveChanges();
    await rejectsNamed(second.saveChanges(), "ClusterTransactionConcurrencyException");
    for (const store of [a, b, c]) {
      const o = await eventually(async () => {
        const x = await store.openSession().load("orders/c");
        return x?.total === 2 ? x : null;
      });
      assert.equal(o?.total, 2, "the winner's value everywhere, the loser's nowhere");
    }

    // A new document under an id that exists (the session did not load it).
    const blind = a.openSession({ transactionMode: "ClusterWide" });
    await blind.store(new Order(9, "customers/9"), "orders/c");
    await rejectsNamed(blind.saveChanges(), "ClusterTransactionConcurrencyException");

    // Two sessions creating the same compare-exchange key: one wins.
    const x = b.openSession({ transactionMode: "ClusterWide" });
    const y = c.openSession({ transactionMode: "ClusterWide" });
    x.advanced.clusterTransaction.createCompareExchangeValue("names/unique", "x");
    y.advanced.clusterTransaction.createCompareExchangeValue("names/unique", "y");
    await x.saveChanges();
    await rejectsNamed(y.saveChanges(), "ClusterTransactionConcurrencyException");
    const v = await a.operations.send(new GetCompareExchangeValueOperation("names/unique"));
    assert.equal(v.value, "x");
  });
});

test("AddDatabaseNodeOperation: the store learns the grown group through Refresh-Topology", T, async () => {
  const { db, result } = await createDatabase("grow", 2);
  const members = [...result.topology.members].sort();
  const spare = cluster.tags.find((t) => !members.includes(t));
  await withStores(async (open) => {
    const store = open(cluster.urls, db);
    const s = store.openSession();
    await s.store(new Order(1, "c"), "orders/g");
    await s.saveChanges();
    const executor = store.getRequestExecutor();
    assert.deepEqual(executor.getTopologyNodes().map((n) => n.clusterTag).sort(), members);
    const etag = executor.getTopologyEtag();

    const added = await store.maintenance.server.send(new AddDatabaseNodeOperation(db, spare));
    assert.deepEqual(added.topology.promotables, [spare]);
    // The next database requests carry the old Topology-Etag; the answer's
    // Refresh-Topology makes the client fetch /topology in the background.
    const learned = await eventually(async () => {
      await store.openSession().load("orders/g");
      const nodes = executor.getTopologyNodes();
      return nodes.length === 3 ? nodes : null;
    });
    assert.ok(learned, `the client still has ${JSON.stringify(executor.getTopologyNodes().map((n) => n.clusterTag))}`);
    assert.ok(executor.getTopologyEtag() > etag);
    const roles = Object.fromEntries(learned.map((n) => [n.clusterTag, n.serverRole]));
    // The supervisor promotes the spare as soon as it has caught up, which
    // may already have happened by the time the client refreshed.
    assert.ok(["Promotable", "Member"].includes(roles[spare]), `spare is ${roles[spare]}`);
    for (const m of members) assert.equal(roles[m], "Member");
  });
});

test("a store given only a node outside the group finds the group's node through /topology", T, async () => {
  const { db, result } = await createDatabase("outside", 1);
  const [member] = result.topology.members;
  const outside = cluster.nodes.find((n) => n.tag !== member);
  await withStores(async (open) => {
    const store = open([outside.url], db);
    const s = store.openSession();
    await s.store(new Order(5, "c"), "orders/o");
    await s.saveChanges();
    assert.deepEqual(store.getRequestExecutor().getTopologyNodes().map((n) => n.clusterTag), [member]);
    assert.equal((await store.openSession().load("orders/o", Order))?.total, 5);
    const onMember = await http(cluster.node(member).url, "GET", `/databases/${db}/docs?id=orders/o`);
    assert.equal(onMember.status, 200, "written on the member");
    assert.equal((await http(outside.url, "GET", `/databases/${db}/docs?id=orders/o`)).status, 410);
  });
});

test("DeleteDatabasesOperation from the store's node: 410 there, the client moves on to another member", T, async () => {
  const { db } = await createDatabase("shrink", 3);
  await withStores(async (open) => {
    const store = open(cluster.urls, db);
    const w = store.openSession({ transactionMode: "ClusterWide" });
    await w.store(new Order(7, "c"), "orders/s");
    await w.saveChanges();
    const executor = store.getRequestExecutor();
    const used = (await executor.getPreferredNode()).currentNode.clusterTag;

    const r = await store.maintenance.server.send(new DeleteDatabasesOperation({
      databaseNames: [db], hardDelete: true, fromNodes: [used],
    }));
    assert.ok(r.raftCommandIndex > 0);
    // The answer comes once the node that took the request applied it; the
    // dropped node follows a moment later.
    assert.equal(await eventually(async () => (await http(cluster.node(used).url, "GET", `/databases/${db}/stats`)).status === 410), true);
    assert.equal((await store.openSession().load("orders/s", Order))?.total, 7, "read from another member");
    const record = await store.maintenance.server.send(new GetDatabaseRecordOperation(db));
    assert.deepEqual([...record.topology.members].sort(), cluster.tags.filter((t) => t !== used));
    const moved = await eventually(async () => {
      await store.openSession().load("orders/s");
      const nodes = executor.getTopologyNodes().map((n) => n.clusterTag);
      return nodes.length === 2 && !nodes.includes(used);
    });
    assert.ok(moved, `the client's topology: ${JSON.stringify(executor.getTopologyNodes().map((n) => n.clusterTag))}`);
  });
});

test("DeleteDatabasesOperation from all nodes while one is down: DatabaseDoesNotExistException and nothing else", T, async () => {
  // The down node keeps the deletion pending (the record lingers with
  // DeletionInProgress) until it comes back; meanwhile the database is gone
  // for the client. RavenDB answers such a request 503 + Database-Missing
  // without Refresh-Topology: with that header the client starts a /topology
  // fetch in the background that rejects unhandled.
  const { db } = await createDatabase("gone", 3);
  const down = cluster.nodes[2];
  // Collect unhandled rejections here instead of letting the runner see them:
  // it would fail the test at once and start the next one while this one is
  // still restarting its node.
  const unhandled = [];
  const runnerListeners = process.listeners("unhandledRejection");
  const collect = (e) => unhandled.push(e);
  process.removeAllListeners("unhandledRejection");
  process.on("unhandledRejection", collect);
  try {
    await withStores(async (open) => {
      const store = open(cluster.urls, db);
      const w = store.openSession({ transactionMode: "ClusterWide" });
      await w.store(new Order(7, "c"), "orders/gone");
      await w.saveChanges();
      assert.equal((await store.openSession().load("orders/gone", Order))?.total, 7);

      await down.crash();
      assert.ok(await cluster.stable(), cluster.logs());
      await store.maintenance.server.send(new DeleteDatabasesOperation({ databaseNames: [db], hardDelete: true }));
      assert.equal(await store.maintenance.server.send(new GetDatabaseRecordOperation(db)) ?? null, null);
      await rejectsNamed(store.openSession().load("orders/gone"), "DatabaseDoesNotExistException");
      await rejectsNamed(store.openSession().load("orders/other"), "DatabaseDoesNotExistException");
      await new Promise((r) => setTimeout(r, 500));  // room for a background failure to surface

      // The name stays taken until the down node removed its copy.
      await rejectsNamed(store.maintenance.server.send(new CreateDatabaseOperation({ databaseName: db }, 3)),
                         "ConcurrencyException");
      await down.start();
      const again = await eventually(async () => {
        const res = await store.maintenance.server.send(new CreateDatabaseOperation({ databaseName: db }, 3));
        return res?.name === db;
      });
      assert.ok(again, "the name could not be used again");
    });
  } finally {
    if (!down.running) await down.start();
    await cluster.stable();
    process.off("unhandledRejection", collect);
    for (const l of runnerListeners) process.on("unhandledRejection", l);
  }
  assert.deepEqual(unhandled.map((e) => `${e?.name}: ${e?.message}`), [],
                   "the client failed in the background (a /topology refresh the server asked for with Refresh-Topology)");
});

test("a cluster-wide write sent to a follower right after kill -9 of the leader succeeds once a new leader is elected", { timeout: 90_000 }, async () => {
  // RavenDB's followers wait (bounded) for the next leader and then forward
  // a cluster command; the client does not retry a 503 from its only node.
  const { db } = await createDatabase("election", 3);
  assert.ok(await cluster.stable());
  const leader = await cluster.leader();
  assert.ok(leader);
  const follower = cluster.nodes.find((n) => n !== leader);
  try {
    await withStores(async (open) => {
      const store = open(follower.url, db, { pinned: true });
      const warm = store.openSession({ transactionMode: "ClusterWide" });
      await warm.store(new Order(1, "c"), "orders/e0");
      await warm.saveChanges();

      await leader.crash();
      const s = store.openSession({ transactionMode: "ClusterWide" });
      await s.store(new Order(2, "c"), "orders/e1");
      await s.saveChanges();
      assert.equal((await store.openSession().load("orders/e1", Order))?.total, 2);
    });
  } finally {
    if (!leader.running) await leader.start();
    await cluster.stable();
  }
});

test("failover: kill -9 the node the store uses; cluster-wide writes are read from another member", { timeout: 90_000 }, async () => {
  const { db } = await createDatabase("failover", 3);
  let killed = null;
  try {
    await withStores(async (open) => {
      const store = open(cluster.urls, db);
      const s = store.openSession({ transactionMode: "ClusterWide" });
      for (let i = 0; i < 5; i++) await s.store(new Order(i, `customers/${i}`), `orders/f${i}`);
      await s.saveChanges();
      // Every member applied the transaction before the kill.
      for (const node of cluster.nodes) {
        const ok = await eventually(async () => (await http(node.url, "GET", `/databases/${db}/docs?id=orders/f4`)).status === 200);
        assert.ok(ok, `orders/f4 never reached ${node.tag}`);
      }

      const executor = store.getRequestExecutor();
      const { currentNode } = await executor.getPreferredNode();
      killed = cluster.node(currentNode.clusterTag);
      assert.ok(killed, `the store uses ${currentNode.url}`);
      await killed.crash();

      const r = store.openSession();
      const loaded = await r.load(["orders/f0", "orders/f1", "orders/f2", "orders/f3", "orders/f4"], Order);
      for (let i = 0; i < 5; i++) assert.equal(loaded[`orders/f${i}`]?.total, i, `orders/f${i} after failover`);
      const now = (await executor.getPreferredNode()).currentNode;
      assert.notEqual(now.clusterTag, killed.tag, "the store moved to another member");

      // With a leader among the two survivors, cluster-wide writes go on.
      assert.ok(await cluster.stable(), "the survivors did not settle on a leader\n" + cluster.logs());
      const w = store.openSession({ transactionMode: "ClusterWide" });
      await w.store(new Order(100, "customers/100"), "orders/after");
      await w.saveChanges();
      assert.equal((await store.openSession().load("orders/after", Order))?.total, 100);

      // The killed node comes back and has the write it missed.
      await killed.start();
      killed = null;
      const back = cluster.node(currentNode.clusterTag);
      const caught = await eventually(async () =>
        (await http(back.url, "GET", `/databases/${db}/docs?id=orders/after`)).status === 200);
      assert.ok(caught, `${back.tag} did not catch up on the cluster-wide write\n${cluster.logs()}`);
    });
  } finally {
    // Leave the cluster whole for whatever runs next.
    if (killed && !killed.running) await killed.start();
  }
});
