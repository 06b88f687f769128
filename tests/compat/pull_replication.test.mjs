// Pull replication driven by the official npm client between two corvusd
// processes (each its own cluster, plain HTTP): the hub's definition
// (PutPullReplicationAsHubOperation), the sink's connection string
// (PutConnectionStringOperation) and definition
// (UpdatePullReplicationAsSinkOperation), the task views the client reads
// (GetOngoingTaskInfoOperation, GetPullReplicationHubTasksInfoOperation), and
// deleting either side (DeleteOngoingTaskOperation) stopping the stream.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  PutPullReplicationAsHubOperation,
  PutConnectionStringOperation,
  RavenConnectionString,
  UpdatePullReplicationAsSinkOperation,
  GetOngoingTaskInfoOperation,
  GetPullReplicationHubTasksInfoOperation,
  DeleteOngoingTaskOperation,
} from "ravendb";
import { CorvusServer, createDatabaseAndStore, putDocument as put, arrives } from "./harness.mjs";

const T = { timeout: 60_000 };
let hubServer;
let sinkServer;
before(async () => {
  hubServer = await CorvusServer.create();
  sinkServer = await CorvusServer.create();
}, { timeout: 60_000 });
after(async () => {
  await hubServer?.dispose();
  await sinkServer?.dispose();
});


async function setupSink(sink, hub, hubName, mode) {
  const cs = Object.assign(new RavenConnectionString(), {
    name: "to-" + hub.database,
    database: hub.database,
    topologyDiscoveryUrls: hub.urls,
  });
  await sink.maintenance.send(new PutConnectionStringOperation(cs));
  return sink.maintenance.send(new UpdatePullReplicationAsSinkOperation({
    connectionStringName: cs.name,
    hubName,
    mode,
  }));
}

test("pull replication with the npm client: define, flow both ways, task views, delete stops it", T, async () => {
  const { store: hub } = await createDatabaseAndStore(hubServer, "hub");
  const { store: sink } = await createDatabaseAndStore(sinkServer, "sink");
  try {
    const hubTask = await hub.maintenance.send(new PutPullReplicationAsHubOperation({
      name: "edges", mode: "HubToSink,SinkToHub",
    }));
    assert.ok(hubTask.taskId > 0);
    await put(hub, "users/1", { name: "from hub" });
    const sinkTask = await setupSink(sink, hub, "edges", "HubToSink,SinkToHub");
    assert.ok(sinkTask.taskId > 0);

    assert.ok(await arrives(sink, "users/1"), "hub -> sink");
    await put(sink, "edge/1", { name: "from edge" });
    assert.ok(await arrives(hub, "edge/1"), "sink -> hub");

    const info = await sink.maintenance.send(new GetOngoingTaskInfoOperation(sinkTask.taskId, "PullReplicationAsSink"));
    assert.equal(info.destinationDatabase, hub.database);
    assert.equal(info.destinationUrl, hub.urls[0]);
    assert.equal(info.hubName, "edges");
    assert.equal(info.taskConnectionStatus, "Active");

    const hubInfo = await hub.maintenance.send(new GetPullReplicationHubTasksInfoOperation(hubTask.taskId));
    assert.equal(hubInfo.definition.name, "edges");
    const ongoing = hubInfo.ongoingTasks.find((t) => t.destinationDatabase === sink.database);
    assert.ok(ongoing, JSON.stringify(hubInfo));
    assert.equal(ongoing.destinationUrl, sink.urls[0]);
    assert.equal(ongoing.taskConnectionStatus, "Active");
    assert.equal(ongoing.taskType, "PullReplicationAsHub");

    // Deleting the hub ends the stream: a later write on the hub stays there.
    // users/3 is written after users/2 on a second hub that still flows, so
    // its arrival bounds the wait without timing.
    await hub.maintenance.send(new DeleteOngoingTaskOperation(hubTask.taskId, "PullReplicationAsHub"));
    await put(hub, "users/2", { name: "after delete" });
    await put(sink, "edge/2", { name: "after delete" });
    const hub2Task = await hub.maintenance.send(new PutPullReplicationAsHubOperation({ name: "second", mode: "HubToSink" }));
    const second = await setupSink(sink, hub, "second", "HubToSink");
    await put(hub, "users/3", { name: "through the second hub" });
    assert.ok(await arrives(sink, "users/3"));
    // The second hub sends everything, users/2 included: that it arrives only
    // now is what the first hub's deletion did. The edge's edge/2 went nowhere.
    assert.ok(await arrives(sink, "users/2"));
    {
      const s = hub.openSession();
      assert.equal(await s.load("edge/2"), null);
    }
    // Deleting the sink ends its pulling.
    await sink.maintenance.send(new DeleteOngoingTaskOperation(second.taskId, "PullReplicationAsSink"));
    assert.ok(hub2Task.taskId > 0);
  } finally {
    hub.dispose();
    sink.dispose();
  }
});
