// Replication conflicts through the unmodified client: ModifyConflictSolverOperation
// (its result and the record's conflictSolverConfig), GetConflictsCommand, and
// DocumentConflictException on a session load of a document in conflict
// between the two members of a database group.
//
// The conflict is made without a network cut (cluster.mjs has no proxies):
// node B is stopped while A writes the document, then A is stopped while B
// writes its own version, then both run again and replication meets the two
// concurrent versions. Which member holds the conflict depends on which one
// hears the other first (conflicts themselves are not replicated yet).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  CreateDatabaseOperation,
  DocumentStore,
  GetConflictsCommand,
  GetDatabaseRecordOperation,
  ModifyConflictSolverOperation,
} from "ravendb";
import { CorvusServer, rejectsNamed, uniqueDbName, withDatabaseStore } from "./harness.mjs";
import { CorvusCluster, eventually } from "./cluster.mjs";

const T = { timeout: 30_000 };
let server;

class User {
  constructor(name) {
    this.name = name;
  }
}

before(async () => { server = await CorvusServer.create(); }, { timeout: 60_000 });
after(async () => { await server?.dispose(); });

test("ModifyConflictSolverOperation: the result and the record", T, async () => {
  await withDatabaseStore(server, "solver", async (store, database) => {
    let record = await store.maintenance.server.send(new GetDatabaseRecordOperation(database));
    assert.ok(!record.conflictSolverConfig);

    // What ConflictSolverTest (the client's own suite) sends: keep conflicts.
    const result = await store.maintenance.server.send(new ModifyConflictSolverOperation(database, {}, false));
    assert.equal(result.key, database);
    assert.ok(result.raftCommandIndex > 0);
    record = await store.maintenance.server.send(new GetDatabaseRecordOperation(database));
    assert.equal(record.conflictSolverConfig.resolveToLatest, false);
    assert.deepEqual(record.conflictSolverConfig.resolveByCollection, {});

    // A script per collection is kept as given (conflict_scripts.test.mjs runs them).
    const when = new Date("2026-12-06T16:00:00.000Z");
    await store.maintenance.server.send(new ModifyConflictSolverOperation(database,
      { Users: { script: "return docs[0];", lastModifiedTime: when } }, true));
    record = await store.maintenance.server.send(new GetDatabaseRecordOperation(database));
    assert.equal(record.conflictSolverConfig.resolveToLatest, true);
    // The client camel-cases every key of the record it reads, collection names too.
    assert.equal(record.conflictSolverConfig.resolveByCollection.users.script, "return docs[0];");
    assert.equal(record.conflictSolverConfig.resolveByCollection.users.lastModifiedTime, "2026-12-06T16:00:00.0000000Z");

    await rejectsNamed(store.maintenance.server.send(new ModifyConflictSolverOperation("no_such_db", {}, true)),
      "DatabaseDoesNotExistException");
  });
});

test("GetConflictsCommand: a document not in conflict has none", T, async () => {
  await withDatabaseStore(server, "noconflict", async (store) => {
    const session = store.openSession();
    await session.store(new User("plain"), "users/1");
    await session.saveChanges();
    const command = new GetConflictsCommand("users/1", store.conventions);
    await store.getRequestExecutor().execute(command);
    assert.equal(command.result.id, "users/1");
    assert.equal(command.result.largestEtag, 0);
    assert.deepEqual(command.result.results, []);
  });
});

test("a document in conflict between two members: DocumentConflictException on load, GetConflictsCommand, a store resolves it",
  { timeout: 180_000 }, async () => {
    const cluster = await CorvusCluster.create(2);
    const stores = [];
    // A store talking to exactly this node (no topology updates, no failover).
    const pinned = (node, database) => {
      const store = new DocumentStore(node.url, database);
      store.conventions.disableTopologyUpdates = true;
      store.initialize();
      stores.push(store);
      return store;
    };
    try {
      const database = uniqueDbName("conflicts");
      const [a, b] = cluster.nodes;
      const admin = pinned(a, database);
      await admin.maintenance.server.send(new CreateDatabaseOperation({ databaseName: database }, 2));
      await admin.maintenance.server.send(new ModifyConflictSolverOperation(database, {}, false));

      const write = async (node, name) => {
        const session = pinned(node, database).openSession();
        await session.store(new User(name), "users/1");
        await session.saveChanges();
      };
      await b.stop();
      await write(a, "on-a");
      await a.stop();
      await b.start();
      await write(b, "on-b");
      await a.start();

      // The member that hears the other first holds the conflict. (The other
      // one should too, but conflicts are not replicated yet: see
      // tests/cluster/replication_conflicts_test.cc, whose should_fail case
      // pins that bug; so this looks for the conflict on either member.)
      const inConflict = async (node) => {
        try {
          await pinned(node, database).openSession().load("users/1");
          return false;
        } catch (e) {
          return e.name === "DocumentConflictException";
        }
      };
      const holder = await eventually(async () => {
        for (const node of [a, b]) {
          if (await inConflict(node)) return node;
        }
        return null;
      });
      assert.ok(holder, `users/1 never in conflict on either member\n${cluster.logs()}`);
      const store = pinned(holder, database);
      await rejectsNamed(store.openSession().load("users/1"), "DocumentConflictException");
      const command = new GetConflictsCommand("users/1", store.conventions);
      await store.getRequestExecutor().execute(command);
      assert.equal(command.result.results.length, 2);
      assert.deepEqual(command.result.results.map((r) => r.doc.name).sort(), ["on-a", "on-b"]);

      // Storing the document where it is in conflict resolves it; the new
      // version supersedes both, so both members end with it.
      await write(holder, "resolved");
      for (const node of [a, b]) {
        const resolved = await eventually(async () =>
          (await pinned(node, database).openSession().load("users/1"))?.name === "resolved");
        assert.ok(resolved, `users/1 not resolved on ${node.tag}\n${cluster.logs()}`);
      }
    } finally {
      for (const s of stores) s.dispose();
      await cluster.dispose();
    }
  });
