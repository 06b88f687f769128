// External replication driven by the official npm client between two corvusd
// processes (each its own cluster, plain HTTP): the connection string
// (PutConnectionStringOperation, GetConnectionStringsOperation), the task
// (UpdateExternalReplicationOperation), its view (GetOngoingTaskInfoOperation),
// toggling it (ToggleOngoingTaskStateOperation), a connection string in use
// refused by RemoveConnectionStringOperation, and deleting the task
// (DeleteOngoingTaskOperation) freeing it.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  PutConnectionStringOperation,
  GetConnectionStringsOperation,
  RemoveConnectionStringOperation,
  RavenConnectionString,
  UpdateExternalReplicationOperation,
  GetOngoingTaskInfoOperation,
  ToggleOngoingTaskStateOperation,
  DeleteOngoingTaskOperation,
} from "ravendb";
import { CorvusServer, createDatabaseAndStore, putDocument as put, arrives } from "./harness.mjs";

const T = { timeout: 60_000 };
let sourceServer;
let destinationServer;
before(async () => {
  sourceServer = await CorvusServer.create();
  destinationServer = await CorvusServer.create();
}, { timeout: 60_000 });
after(async () => {
  await sourceServer?.dispose();
  await destinationServer?.dispose();
});


test("external replication with the npm client: configure, flow, task view, toggle, connection string rules", T, async () => {
  const { store: source } = await createDatabaseAndStore(sourceServer, "source");
  const { store: destination } = await createDatabaseAndStore(destinationServer, "destination");
  try {
    const cs = Object.assign(new RavenConnectionString(), {
      name: "to-destination",
      database: destination.database,
      topologyDiscoveryUrls: destination.urls,
    });
    await source.maintenance.send(new PutConnectionStringOperation(cs));
    const listed = await source.maintenance.send(new GetConnectionStringsOperation());
    assert.equal(listed.ravenConnectionStrings["to-destination"].database, destination.database);

    await put(source, "users/1", { name: "before the task" });
    const task = await source.maintenance.send(new UpdateExternalReplicationOperation({
      name: "push", connectionStringName: cs.name,
    }));
    assert.ok(task.taskId > 0);
    assert.ok(await arrives(destination, "users/1"));
    await put(source, "users/2", { name: "after" });
    assert.ok(await arrives(destination, "users/2"));

    const info = await source.maintenance.send(new GetOngoingTaskInfoOperation(task.taskId, "Replication"));
    assert.equal(info.taskType, "Replication");
    assert.equal(info.taskName, "push");
    assert.equal(info.destinationDatabase, destination.database);
    assert.equal(info.connectionStringName, cs.name);
    assert.equal(info.taskState, "Enabled");
    assert.equal(info.taskConnectionStatus, "Active");
    assert.equal(info.destinationUrl, destination.urls[0]);

    // A write on the destination stays there (one way).
    await put(destination, "local/1", { name: "destination's own" });

    // Disabled: the view says so; enabled again, what was written meanwhile arrives.
    await source.maintenance.send(new ToggleOngoingTaskStateOperation(task.taskId, "Replication", true));
    const disabled = await source.maintenance.send(new GetOngoingTaskInfoOperation(task.taskId, "Replication"));
    assert.equal(disabled.taskState, "Disabled");
    await put(source, "users/3", { name: "while disabled" });
    await source.maintenance.send(new ToggleOngoingTaskStateOperation(task.taskId, "Replication", false));
    assert.ok(await arrives(destination, "users/3"));
    {
      const s = source.openSession();
      assert.equal(await s.load("local/1"), null);
    }

    // A connection string in use cannot go; once the task is deleted it can.
    await assert.rejects(source.maintenance.send(new RemoveConnectionStringOperation(cs)), /used by external replication 'push'/);
    await source.maintenance.send(new DeleteOngoingTaskOperation(task.taskId, "Replication"));
    await source.maintenance.send(new RemoveConnectionStringOperation(cs));
    const after = await source.maintenance.send(new GetConnectionStringsOperation());
    assert.equal(after.ravenConnectionStrings["to-destination"], undefined);
  } finally {
    source.dispose();
    destination.dispose();
  }
});
