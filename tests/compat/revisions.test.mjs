// Revisions through the unmodified client: ConfigureRevisionsOperation, the
// session's revisions API (getFor, getMetadataFor, get by change vector(s) and
// by date, getCountFor), forceRevisionCreationFor, delete revisions and the
// revisions bin.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  ConfigureRevisionsOperation,
  CreateDatabaseOperation,
  DocumentStore,
  GetDatabaseRecordOperation,
  GetRevisionsBinEntryCommand,
  RevisionsCollectionConfiguration,
  RevisionsConfiguration,
} from "ravendb";
import { CorvusServer, uniqueDbName, withDatabaseStore } from "./harness.mjs";
import { CorvusCluster } from "./cluster.mjs";

const T = { timeout: 30_000 };
let server;

class User {
  constructor(name) {
    this.name = name;
  }
}

before(async () => { server = await CorvusServer.create(); }, { timeout: 60_000 });
after(async () => { await server?.dispose(); });

const withStore = (prefix, fn, configure) => withDatabaseStore(server, prefix, fn, configure);

function collectionConfig(fields) {
  return Object.assign(new RevisionsCollectionConfiguration(), fields);
}

async function configure(store, defaults, collections) {
  const configuration = new RevisionsConfiguration();
  if (defaults) configuration.defaultConfig = collectionConfig(defaults);
  if (collections) {
    configuration.collections = new Map(Object.entries(collections).map(([k, v]) => [k, collectionConfig(v)]));
  }
  return store.maintenance.send(new ConfigureRevisionsOperation(configuration));
}

async function storeVersions(store, id, names) {
  for (const name of names) {
    const session = store.openSession();
    await session.store(new User(name), id);
    await session.saveChanges();
  }
}

test("ConfigureRevisionsOperation answers a raft index and the record shows Revisions", T, () => withStore("revconf", async (store, database) => {
  const result = await configure(store, { minimumRevisionsToKeep: 5 }, { Orders: { disabled: true } });
  assert.ok(result.raftCommandIndex > 0);
  const record = await store.maintenance.server.send(new GetDatabaseRecordOperation(database));
  // The client camel-cases every key of the raw record (collection names too).
  assert.equal(record.revisions.default.minimumRevisionsToKeep, 5);
  assert.equal(record.revisions.default.disabled, false);
  assert.equal(record.revisions.collections.orders.disabled, true);
}));

test("getFor, getMetadataFor, get by change vector(s) and getCountFor", T, () => withStore("revget", async (store) => {
  await configure(store, { minimumRevisionsToKeep: 4 });
  await storeVersions(store, "users/1", ["user1", "user2", "user3", "user4", "user5"]);

  const session = store.openSession();
  const all = await session.advanced.revisions.getFor("users/1");
  assert.deepEqual(all.map((u) => u.name), ["user5", "user4", "user3", "user2"]);  // pruned to 4, newest first
  const page = await session.advanced.revisions.getFor("users/1", { start: 1, pageSize: 2 });
  assert.deepEqual(page.map((u) => u.name), ["user4", "user3"]);
  assert.equal(await session.advanced.revisions.getCountFor("users/1"), 4);
  assert.equal(await session.advanced.revisions.getCountFor("users/none"), 0);
  assert.deepEqual(await session.advanced.revisions.getFor("users/none"), []);

  const metadata = await session.advanced.revisions.getMetadataFor("users/1", { start: 1 });
  assert.equal(metadata.length, 3);
  assert.match(metadata[0]["@flags"], /\bRevision\b/);
  assert.match(metadata[0]["@flags"], /HasRevisions/);

  const third = await session.advanced.revisions.get(metadata[0]["@change-vector"]);
  assert.equal(third.name, "user4");
  const byVectors = await session.advanced.revisions.get([metadata[1]["@change-vector"], metadata[2]["@change-vector"]]);
  assert.equal(byVectors[metadata[1]["@change-vector"]].name, "user3");
  assert.equal(byVectors[metadata[2]["@change-vector"]].name, "user2");
  assert.equal(await session.advanced.revisions.get("A:999999-nosuchdatabaseidxxxxxx"), null);

  // The live document carries HasRevisions.
  const live = await session.load("users/1");
  assert.match(session.advanced.getMetadataFor(live)["@flags"], /HasRevisions/);
}));

test("get(id, date) gives the revision current at that time", T, () => withStore("revdate", async (store) => {
  await configure(store, {});
  await storeVersions(store, "users/1", ["first"]);
  const session = store.openSession();
  const [firstMeta] = await session.advanced.revisions.getMetadataFor("users/1");
  const between = new Date(Date.parse(firstMeta["@last-modified"]) + 1);
  await new Promise((r) => setTimeout(r, 5));  // the next version gets a later last-modified
  await storeVersions(store, "users/1", ["second"]);
  const at = await session.advanced.revisions.get("users/1", between);
  assert.equal(at.name, "first");
  const now = await session.advanced.revisions.get("users/1", new Date(Date.now() + 60_000));
  assert.equal(now.name, "second");
}));

test("a collection entry overrides Default; a delete keeps a delete revision; the bin lists it", T, () => withStore("revdel", async (store) => {
  await configure(store, {}, { Orders: { disabled: true }, Carts: { purgeOnDelete: true } });
  await storeVersions(store, "users/1", ["a", "b"]);
  {
    const session = store.openSession();
    await session.store({ total: 1, "@metadata": { "@collection": "Orders" } }, "orders/1");
    await session.store({ items: 1, "@metadata": { "@collection": "Carts" } }, "carts/1");
    await session.saveChanges();
  }
  let session = store.openSession();
  assert.equal(await session.advanced.revisions.getCountFor("orders/1"), 0);
  assert.equal(await session.advanced.revisions.getCountFor("carts/1"), 1);

  session = store.openSession();
  session.delete("users/1");
  session.delete("carts/1");
  await session.saveChanges();

  session = store.openSession();
  const metadata = await session.advanced.revisions.getMetadataFor("users/1");
  assert.equal(metadata.length, 3);
  assert.match(metadata[0]["@flags"], /DeleteRevision/);
  assert.equal(await session.advanced.revisions.getCountFor("carts/1"), 0);  // purged

  const bin = new GetRevisionsBinEntryCommand(store.conventions, 0, 20);
  await store.getRequestExecutor().execute(bin);
  assert.deepEqual(bin.result.results.map((r) => r["@metadata"]["@id"]), ["users/1"]);
  // Without a pageSize this client sends "pageSize=undefined"; the server reads it as absent.
  const unbounded = new GetRevisionsBinEntryCommand(store.conventions, 0);
  await store.getRequestExecutor().execute(unbounded);
  assert.equal(unbounded.result.results.length, 1);
}));

test("forceRevisionCreationFor without a configuration, by id and by entity, once per version", T, () => withStore("revforce", async (store) => {
  await storeVersions(store, "users/1", ["ann"]);
  {
    const session = store.openSession();
    session.advanced.revisions.forceRevisionCreationFor("users/1");
    await session.saveChanges();
    assert.equal(await session.advanced.revisions.getCountFor("users/1"), 1);
  }
  {
    // Tracked entity: the session takes the new change vector (HasRevisions was
    // added), so a later optimistic save still succeeds.
    const session = store.openSession();
    session.advanced.useOptimisticConcurrency = true;
    const user = await session.load("users/1");
    session.advanced.revisions.forceRevisionCreationFor(user);
    await session.saveChanges();  // a revision of this version exists: nothing new
    assert.equal(await session.advanced.revisions.getCountFor("users/1"), 1);
    user.name = "ann2";
    session.advanced.revisions.forceRevisionCreationFor(user);  // "Before": keeps "ann" as it was
    await session.saveChanges();
    const names = (await session.advanced.revisions.getFor("users/1")).map((u) => u.name);
    assert.deepEqual(names, ["ann"]);
    const fresh = store.openSession();
    const loaded = await fresh.load("users/1");
    assert.equal(loaded.name, "ann2");
    assert.match(fresh.advanced.getMetadataFor(loaded)["@flags"], /HasRevisions/);
  }
  {
    const session = store.openSession();
    const user = await session.load("users/1");
    session.advanced.revisions.forceRevisionCreationFor(user);
    await session.saveChanges();
    const names = (await session.advanced.revisions.getFor("users/1")).map((u) => u.name);
    assert.deepEqual(names, ["ann2", "ann"]);
  }
}));

test("revisions in a three-node group: the configuration is in force on every member once the operation answers", { timeout: 120_000 }, async () => {
  const cluster = await CorvusCluster.create(3);
  const stores = [];
  const open = (urls, database, pinned) => {
    const store = new DocumentStore(urls, database);
    if (pinned) store.conventions.disableTopologyUpdates = true;
    store.initialize();
    stores.push(store);
    return store;
  };
  try {
    const database = uniqueDbName("revrf3");
    const store = open(cluster.urls, database, false);
    await store.maintenance.server.send(new CreateDatabaseOperation({ databaseName: database }, 3));
    await configure(store, { minimumRevisionsToKeep: 3 });
    // Each member on its own (no replication involved): a write right after
    // the answer keeps a revision there.
    for (const node of cluster.nodes) {
      const pinned = open([node.url], database, true);
      await storeVersions(pinned, `users/${node.tag}`, ["a", "b"]);
      const session = pinned.openSession();
      assert.equal(await session.advanced.revisions.getCountFor(`users/${node.tag}`), 2, `node ${node.tag}`);
      const record = await pinned.maintenance.server.send(new GetDatabaseRecordOperation(database));
      assert.equal(record.revisions.default.minimumRevisionsToKeep, 3, `record on node ${node.tag}`);
    }
  } finally {
    for (const s of stores) s.dispose();
    await cluster.dispose();
  }
});
