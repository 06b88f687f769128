// Direct commands through the request executor (no session):
// PutDocumentCommand / GetDocumentsCommand, plus a few raw-protocol checks
// of what the client depends on.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { DocumentStore, PutDocumentCommand, GetDocumentsCommand, GetBuildNumberOperation, GetClientConfigurationOperation } from "ravendb";
import { CorvusServer, createDatabaseAndStore, rejectsNamed, rawRequest, withDatabaseStore } from "./harness.mjs";

const T = { timeout: 30_000 };
let server;
before(async () => { server = await CorvusServer.create(); }, { timeout: 60_000 });
after(async () => { await server?.dispose(); });

const withStore = (prefix, fn, configure) => withDatabaseStore(server, prefix, fn, configure);

test("PutDocumentCommand stores a document and returns its id and change vector", T, () => withStore("put", async (store) => {
  const executor = store.getRequestExecutor();
  const doc = { name: "Direct", n: 7, "@metadata": { "@collection": "Things", "x-custom": "yes" } };
  const put = new PutDocumentCommand("things/1", null, doc);
  await executor.execute(put);
  assert.equal(put.result.id, "things/1");
  assert.equal(typeof put.result.changeVector, "string");
  assert.ok(put.result.changeVector.length > 0);

  const get = new GetDocumentsCommand({ id: "things/1", conventions: store.conventions });
  await executor.execute(get);
  assert.equal(get.result.results.length, 1);
  const loaded = get.result.results[0];
  assert.equal(loaded.name, "Direct");
  assert.equal(loaded.n, 7);
  assert.equal(loaded["@metadata"]["@id"], "things/1");
  assert.equal(loaded["@metadata"]["@collection"], "Things");
  assert.equal(loaded["@metadata"]["@change-vector"], put.result.changeVector);
  assert.equal(loaded["@metadata"]["x-custom"], "yes");

  // The session sees the directly-put document too.
  const session = store.openSession();
  assert.equal((await session.load("things/1")).name, "Direct");

  // Put with the current change vector succeeds and yields a new one;
  // with a stale one it throws ConcurrencyException and changes nothing.
  const put2 = new PutDocumentCommand("things/1", put.result.changeVector, { name: "v2", "@metadata": { "@collection": "Things" } });
  await executor.execute(put2);
  assert.notEqual(put2.result.changeVector, put.result.changeVector);
  await rejectsNamed(executor.execute(new PutDocumentCommand("things/1", put.result.changeVector, { name: "stale" })), "ConcurrencyException");
  const get2 = new GetDocumentsCommand({ id: "things/1", conventions: store.conventions });
  await executor.execute(get2);
  assert.equal(get2.result.results[0].name, "v2");
  assert.equal(get2.result.results[0]["@metadata"]["@change-vector"], put2.result.changeVector);
}));

test("GetDocumentsCommand: missing single id gives null, many ids keep order, includes, metadataOnly", T, () => withStore("get", async (store) => {
  const executor = store.getRequestExecutor();
  for (const [id, body] of [
    ["people/1", { name: "One", friend: "people/2" }],
    ["people/2", { name: "Two", friend: null }],
    ["people/3", { name: "Three", friend: "people/missing" }],
  ]) {
    await executor.execute(new PutDocumentCommand(id, null, { ...body, "@metadata": { "@collection": "People" } }));
  }

  const missing = new GetDocumentsCommand({ id: "people/404", conventions: store.conventions });
  await executor.execute(missing);
  assert.equal(missing.result, null, "404 maps to a null result");

  const many = new GetDocumentsCommand({ ids: ["people/3", "people/404", "people/1"], conventions: store.conventions });
  await executor.execute(many);
  assert.equal(many.result.results.length, 3);
  assert.equal(many.result.results[0].name, "Three");
  assert.equal(many.result.results[1], null);
  assert.equal(many.result.results[2].name, "One");

  const withInclude = new GetDocumentsCommand({ ids: ["people/1"], includes: ["friend"], conventions: store.conventions });
  await executor.execute(withInclude);
  assert.equal(withInclude.result.results[0].name, "One");
  const includes = withInclude.result.includes;
  assert.ok(includes["people/2"], `people/2 included: ${JSON.stringify(includes)}`);
  assert.equal(includes["people/2"].name, "Two");
  assert.equal(includes["people/2"]["@metadata"]["@id"], "people/2");

  const metaOnly = new GetDocumentsCommand({ ids: ["people/1"], metadataOnly: true, conventions: store.conventions });
  await executor.execute(metaOnly);
  const m = metaOnly.result.results[0];
  assert.equal(m["@metadata"]["@id"], "people/1");
  assert.equal(m.name, undefined, "metadataOnly returns no body fields");

  const paged = new GetDocumentsCommand({ start: 0, pageSize: 2, startsWith: "people/", conventions: store.conventions });
  await executor.execute(paged);
  assert.equal(paged.result.results.length, 2);
  const all = new GetDocumentsCommand({ start: 0, pageSize: 100, startsWith: "people/", conventions: store.conventions });
  await executor.execute(all);
  assert.deepEqual(all.result.results.map((d) => d["@metadata"]["@id"]).sort(), ["people/1", "people/2", "people/3"]);
}));

test("raw protocol details the client relies on", T, () => withStore("raw", async (store, db) => {
  const executor = store.getRequestExecutor();
  const put = new PutDocumentCommand("r/1", null, { a: 1, "@metadata": { "@collection": "Rs" } });
  await executor.execute(put);
  const cv = put.result.changeVector;

  // HEAD /docs: 200 with the change vector as ETag, 404 when missing.
  const head = await rawRequest(server, "HEAD", `/databases/${db}/docs?id=r%2F1`);
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("etag"), `"${cv}"`);
  const head404 = await rawRequest(server, "HEAD", `/databases/${db}/docs?id=r%2F2`);
  assert.equal(head404.status, 404);

  // GET with an empty leading parameter, as the client builds it.
  const get = await rawRequest(server, "GET", `/databases/${db}/docs?&id=r%2F1`);
  assert.equal(get.status, 200);
  assert.ok(get.headers.get("raven-server-version"), "Raven-Server-Version header present");
  assert.equal(get.json.Results[0]["@metadata"]["@id"], "r/1");
  const etag = get.headers.get("etag");
  if (etag) {
    const again = await rawRequest(server, "GET", `/databases/${db}/docs?&id=r%2F1`, { headers: { "If-None-Match": etag } });
    assert.equal(again.status, 304, "If-None-Match with the current ETag answers 304");
  }

  // DELETE with a wrong If-Match is a 409 ConcurrencyException body.
  const del = await rawRequest(server, "DELETE", `/databases/${db}/docs?id=r%2F1`, { headers: { "If-Match": '"A:999-AAAAAAAAAAAAAAAAAAAAAA"' } });
  assert.equal(del.status, 409);
  assert.match(del.json.Type, /ConcurrencyException/);
  const del2 = await rawRequest(server, "DELETE", `/databases/${db}/docs?id=r%2F1`, { headers: { "If-Match": `"${cv}"` } });
  assert.equal(del2.status, 204);
  const del3 = await rawRequest(server, "DELETE", `/databases/${db}/docs?id=r%2F1`);
  assert.equal(del3.status, 204, "deleting a missing doc is 204");

  // Topology the request executor reads.
  const topo = await rawRequest(server, "GET", `/topology?name=${db}&first-topology-update`);
  assert.equal(topo.status, 200);
  assert.equal(topo.json.Nodes.length, 1);
  assert.equal(topo.json.Nodes[0].Url, server.url);
  assert.equal(topo.json.Nodes[0].ServerRole, "Member");
  assert.equal(topo.json.Nodes[0].Database, db);
  assert.equal(typeof topo.json.Etag, "number");
}));

test("store with disableTopologyUpdates (uses /cluster/node-info) does CRUD", T, async () => {
  const { store: admin, database } = await createDatabaseAndStore(server, "notopo");
  admin.dispose();
  const store = new DocumentStore(server.url, database);
  store.conventions.disableTopologyUpdates = true;
  store.initialize();
  try {
    const s = store.openSession();
    await s.store({ v: 1 }, "nt/1");
    await s.saveChanges();
    assert.equal((await store.openSession().load("nt/1")).v, 1);
    const nodes = store.getRequestExecutor().getTopologyNodes();
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0].clusterTag, "A", "node tag read from /cluster/node-info");
  } finally {
    store.dispose();
  }
});

test("GetBuildNumberOperation and GetClientConfigurationOperation answer", T, () => withStore("misc", async (store) => {
  const build = await store.maintenance.server.send(new GetBuildNumberOperation());
  assert.equal(typeof build.productVersion, "string");
  assert.equal(typeof build.buildVersion, "number");
  const cfg = await store.maintenance.send(new GetClientConfigurationOperation());
  // The client re-parses Etag as a string on purpose (64-bit values).
  assert.match(String(cfg.etag), /^-?\d+$/);
}));
