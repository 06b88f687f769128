// Failover of plain (not cluster-wide) writes through the unmodified client on
// a replication-factor-3 database of a three-node cluster (cluster.mjs): a
// DocumentStore given all three URLs writes documents in a loop, one session
// each, while the node it talks to (the request executor's preferred node) is
// killed (-9). The client must move to another member and keep writing, and
// the documents it was told were saved must be on the survivors: at once for
// those a survivor answered, and for those the killed node answered just
// before it died (replication is asynchronous: they may not have left it),
// once it is back. Finally all three nodes hold every acknowledged document.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { CreateDatabaseOperation, DocumentStore } from "ravendb";
import { uniqueDbName } from "./harness.mjs";
import { CorvusCluster, eventually, http } from "./cluster.mjs";

let cluster;

before(async () => { cluster = await CorvusCluster.create(3); }, { timeout: 120_000 });
after(async () => { await cluster?.dispose(); });

class Item {
  constructor(n) {
    this.n = n;
  }
}

// The ids of `ids` the node at `url` does not serve.
async function missingOn(url, db, ids) {
  const missing = [];
  for (let i = 0; i < ids.length; i += 50) {
    const chunk = ids.slice(i, i + 50);
    const r = await http(url, "GET", `/databases/${db}/docs?${chunk.map((id) => `id=${encodeURIComponent(id)}`).join("&")}`);
    if (r.status !== 200) return [...ids];  // 404 when all are absent, 0 when down
    r.json.Results.forEach((doc, k) => { if (!doc) missing.push(chunk[k]); });
  }
  return missing;
}

test("failover: kill -9 the node a writing session uses; it keeps writing on another member, nothing acknowledged is lost", { timeout: 120_000 }, async () => {
  const db = uniqueDbName("replfailover");
  const admin = new DocumentStore(cluster.urls, db).initialize();
  let killed = null;
  const store = new DocumentStore(cluster.urls, db).initialize();
  try {
    await admin.maintenance.server.send(new CreateDatabaseOperation({ databaseName: db }, 3));
    const executor = store.getRequestExecutor();

    // id -> tag of the node that answered, when the executor's preferred node
    // was that node before and after the save (otherwise null: it may have
    // been the killed one, or a failover happened during the request).
    const acknowledged = new Map();
    const errors = [];
    let stop = false;
    const writer = (async () => {
      for (let n = 0; !stop; n++) {
        const id = `items/${n}`;
        try {
          const before = (await executor.getPreferredNode()).currentNode.clusterTag;
          const s = store.openSession();
          await s.store(new Item(n), id);
          await s.saveChanges();
          const after = (await executor.getPreferredNode()).currentNode.clusterTag;
          acknowledged.set(id, before === after ? after : null);
        } catch (e) {
          errors.push(`${id}: ${e.name}: ${e.message}`);
        }
      }
    })();
    const acks = () => acknowledged.size;

    try {
      assert.ok(await eventually(() => acks() >= 30), `the writer saved ${acks()} documents; errors: ${errors.slice(0, 3)}`);
      const { currentNode } = await executor.getPreferredNode();
      killed = cluster.node(currentNode.clusterTag);
      assert.ok(killed, `the store uses ${currentNode.url}`);
      await killed.crash();

      // The loop goes on through another member: 50 saves a survivor answered.
      const bySurvivors = () => [...acknowledged.values()].filter((tag) => tag && tag !== killed.tag).length;
      assert.ok(await eventually(() => bySurvivors() >= 50, 60_000),
        `after killing ${killed.tag} survivors answered ${bySurvivors()} saves; errors: ${errors.slice(-3)}\n${cluster.logs()}`);
      const now = (await executor.getPreferredNode()).currentNode.clusterTag;
      assert.notEqual(now, killed.tag, "the store moved to another member");
    } finally {
      stop = true;
      await writer;
    }

    const survivors = cluster.nodes.filter((n) => n !== killed);
    const bySurvivor = [...acknowledged].filter(([, tag]) => tag && tag !== killed.tag).map(([id]) => id);
    const uncertain = [...acknowledged].filter(([, tag]) => !tag || tag === killed.tag).map(([id]) => id);
    // Answered by a survivor: on both survivors while the killed node is down.
    for (const node of survivors) {
      let missing = [];
      const ok = await eventually(async () => (missing = await missingOn(node.url, db, bySurvivor)).length === 0);
      assert.ok(ok, `${node.tag} lacks ${missing.length} documents a survivor acknowledged, e.g. ${missing.slice(0, 5)}\n${cluster.logs()}`);
    }
    const notYet = await missingOn(survivors[0].url, db, uncertain);

    // The killed node returns: every acknowledged document, everywhere.
    await killed.start();
    const all = [...acknowledged.keys()];
    for (const node of cluster.nodes) {
      let missing = [];
      const ok = await eventually(async () => (missing = await missingOn(node.url, db, all)).length === 0);
      assert.ok(ok, `${node.tag} lacks ${missing.length} acknowledged documents, e.g. ${missing.slice(0, 5)}\n${cluster.logs()}`);
    }
    console.log(`replication failover: ${all.length} saves acknowledged (${bySurvivor.length} by a survivor), ` +
      `${errors.length} failed, ${notYet.length} of ${uncertain.length} answered by ${killed.tag} reached the survivors only after its restart`);
  } finally {
    store.dispose();
    admin.dispose();
    if (killed && !killed.running) await killed.start();
  }
});
