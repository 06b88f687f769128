// Conflict resolution scripts (the conflict solver's ResolveByCollection) on
// two replicating members: the script sees the conflicting versions as `docs`
// and its answer becomes the document on both members; a script that fails
// leaves the conflict in place, visible, with both versions.
//
// The conflicts are made as in replication.test.mjs: B stopped while A
// writes, A stopped while B writes, then both run again.

import { test } from "node:test";
import assert from "node:assert/strict";
import { CreateDatabaseOperation, DocumentStore, GetConflictsCommand, ModifyConflictSolverOperation } from "ravendb";
import { uniqueDbName } from "./harness.mjs";
import { CorvusCluster, eventually } from "./cluster.mjs";

class User {
  constructor(name) {
    this.name = name;
  }
}

test("a conflict script resolves on both members; a failing one leaves the conflict", { timeout: 180_000 }, async () => {
  const cluster = await CorvusCluster.create(2);
  const stores = [];
  const pinned = (node, database) => {
    const store = new DocumentStore(node.url, database);
    store.conventions.disableTopologyUpdates = true;
    store.initialize();
    stores.push(store);
    return store;
  };
  try {
    const database = uniqueDbName("conflict-scripts");
    const [a, b] = cluster.nodes;
    const admin = pinned(a, database);
    await admin.maintenance.server.send(new CreateDatabaseOperation({ databaseName: database }, 2));
    await admin.maintenance.server.send(new ModifyConflictSolverOperation(database, {
      Users: { script: "return { name: docs.map(d => d.name).sort().join('+'), '@metadata': docs[0]['@metadata'] };" },
      Failing: { script: "throw new Error('cannot decide');" },
    }, false));

    const write = async (node, id, name, collection) => {
      const session = pinned(node, database).openSession();
      const doc = new User(name);
      await session.store(doc, id);
      session.advanced.getMetadataFor(doc)["@collection"] = collection;
      await session.saveChanges();
    };
    await b.stop();
    await write(a, "users/1", "on-a", "Users");
    await write(a, "failing/1", "on-a", "Failing");
    await a.stop();
    await b.start();
    await write(b, "users/1", "on-b", "Users");
    await write(b, "failing/1", "on-b", "Failing");
    await a.start();

    for (const node of [a, b]) {
      const resolved = await eventually(async () => {
        try {
          return (await pinned(node, database).openSession().load("users/1"))?.name === "on-a+on-b";
        } catch {
          return false;
        }
      });
      assert.ok(resolved, `users/1 not resolved by the script on ${node.tag}\n${cluster.logs()}`);
    }

    // The failing script: the conflict stays, with both versions, where it is.
    const holder = await eventually(async () => {
      for (const node of [a, b]) {
        const command = new GetConflictsCommand("failing/1", pinned(node, database).conventions);
        await pinned(node, database).getRequestExecutor().execute(command);
        if (command.result.results.length === 2) return node;
      }
      return null;
    });
    assert.ok(holder, `failing/1 never in conflict\n${cluster.logs()}`);
    const command = new GetConflictsCommand("failing/1", pinned(holder, database).conventions);
    await pinned(holder, database).getRequestExecutor().execute(command);
    assert.deepEqual(command.result.results.map((r) => r.doc.name).sort(), ["on-a", "on-b"]);
  } finally {
    for (const s of stores) s.dispose();
    await cluster.dispose();
  }
});
