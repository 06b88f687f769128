// JavaScript patches through the official npm client: session.advanced.patch/
// increment/add/addOrPatch/addOrIncrement (the bulk_docs PATCH command),
// PatchOperation (PatchIfMissing, test mode, skipPatchIfChangeVectorMismatch),
// PatchByQueryOperation, and bad scripts (syntax error, throw, infinite loop,
// huge allocation), each a 400 that changes nothing.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { IndexQuery, PatchByQueryOperation, PatchOperation, PatchRequest, GetStatisticsOperation } from "ravendb";
import { CorvusServer, createDatabaseAndStore, rawRequest, rejectsNamed } from "./harness.mjs";

let server;
before(async () => {
  // Small limits keep the runaway-script cases short; corvusd reads them from its environment.
  process.env.CORVUS_SCRIPT_TIMEOUT = "500";
  process.env.CORVUS_SCRIPT_MAX_MEMORY = "64MiB";
  try {
    server = await CorvusServer.create();
  } finally {
    delete process.env.CORVUS_SCRIPT_TIMEOUT;
    delete process.env.CORVUS_SCRIPT_MAX_MEMORY;
  }
}, { timeout: 60_000 });
after(async () => { await server?.dispose(); });

class User {
  constructor(name, age = 0) {
    this.name = name;
    this.age = age;
    this.tags = [];
  }
}

async function storeUser(store, id, name = "ann", age = 30) {
  const session = store.openSession();
  await session.store(new User(name, age), id);
  await session.saveChanges();
}

async function load(store, id) {
  return store.openSession().load(id);
}

test("session.advanced patch, increment, add, addOrPatch, addOrIncrement", { timeout: 60_000 }, async () => {
  const { store } = await createDatabaseAndStore(server, "patch-session");
  try {
    await storeUser(store, "users/1");
    {
      const session = store.openSession();
      const user = await session.load("users/1");
      session.advanced.patch(user, "name", "bob");
      session.advanced.increment(user, "age", 5);
      session.advanced.patchArray(user, "tags", (arr) => arr.push("x", "y"));
      await session.saveChanges();
      // The session's entity is refreshed from the patched document.
      assert.equal(user.name, "bob");
    }
    let user = await load(store, "users/1");
    assert.equal(user.name, "bob");
    assert.equal(user.age, 35);
    assert.deepEqual(user.tags, ["x", "y"]);

    {
      const session = store.openSession();
      session.advanced.addOrPatch("users/2", new User("new", 1), "age", 50);
      session.advanced.addOrIncrement("users/3", new User("counted", 10), "age", 1);
      await session.saveChanges();
    }
    assert.equal((await load(store, "users/2")).age, 1);   // created as given
    assert.equal((await load(store, "users/3")).age, 10);
    {
      const session = store.openSession();
      session.advanced.addOrPatch("users/2", new User("new", 1), "age", 50);
      session.advanced.addOrIncrement("users/3", new User("counted", 10), "age", 1);
      await session.saveChanges();
    }
    assert.equal((await load(store, "users/2")).age, 50);  // existed: patched
    assert.equal((await load(store, "users/3")).age, 11);
  } finally {
    store.dispose();
  }
});

test("PatchOperation: script API, PatchIfMissing, test mode, change vector mismatch", { timeout: 60_000 }, async () => {
  const { store } = await createDatabaseAndStore(server, "patch-op");
  try {
    await storeUser(store, "users/1");
    await storeUser(store, "companies/1", "acme");
    const patch = PatchRequest.forScript(`
        this.age += args.by;
        this.company = load('companies/1').name;
        this.me = id(this);
        put('logs/1', { text: 'patched ' + this.name, '@metadata': { '@collection': 'Logs' } });
        incrementCounter(this, 'likes', 2);
        output('done');`);
    patch.values = { by: 3 };
    const result = await store.operations.send(new PatchOperation("users/1", null, patch));
    assert.equal(result.status, "Patched");
    const user = await load(store, "users/1");
    assert.equal(user.age, 33);
    assert.equal(user.company, "acme");
    assert.equal(user.me, "users/1");
    assert.equal((await load(store, "logs/1")).text, "patched ann");
    assert.equal(await store.openSession().countersFor("users/1").get("likes"), 2);

    // A missing document: DocumentDoesNotExist, unless PatchIfMissing creates it.
    const missing = await store.operations.send(new PatchOperation("users/404", null, PatchRequest.forScript("this.x = 1")));
    assert.equal(missing.status, "DocumentDoesNotExist");
    const created = await store.operations.send(new PatchOperation("users/5", null, PatchRequest.forScript("this.x = 1"),
      PatchRequest.forScript("this.name = 'made'; this.age = 1"), false));
    assert.equal(created.status, "Created");
    assert.equal((await load(store, "users/5")).name, "made");

    // A no-op script: NotModified, and the document keeps its change vector.
    const before = store.openSession();
    const u1 = await before.load("users/1");
    const cv = before.advanced.getChangeVectorFor(u1);
    const same = await store.operations.send(new PatchOperation("users/1", null, PatchRequest.forScript("this.age = this.age")));
    assert.equal(same.status, "NotModified");
    const after = store.openSession();
    assert.equal(after.advanced.getChangeVectorFor(await after.load("users/1")), cv);

    // Test mode answers the modified document and saves nothing.
    const cmd = new PatchOperation("users/1", null, PatchRequest.forScript("this.age = 1000; output('t')"))
      .getCommand(store, store.conventions, null, true, true);
    await store.getRequestExecutor().execute(cmd);
    assert.equal(cmd.result.status, "Patched");
    assert.equal(cmd.result.modifiedDocument.age, 1000);
    assert.equal(cmd.result.originalDocument.age, 33);
    assert.deepEqual(cmd.result.debug.Output ?? cmd.result.debug.output, ["t"]);
    assert.equal((await load(store, "users/1")).age, 33);

    // An old change vector: 409, or Skipped when asked.
    await storeUser(store, "users/1", "ann", 40);
    await rejectsNamed(store.operations.send(new PatchOperation("users/1", cv, PatchRequest.forScript("this.age = 1"))),
      "ConcurrencyException");
    // Skipped is a 304 without a body, which the client reports as NotModified.
    const skipped = await store.operations.send(new PatchOperation("users/1", cv, PatchRequest.forScript("this.age = 1"),
      null, true));
    assert.equal(skipped.status, "NotModified");
    assert.equal((await load(store, "users/1")).age, 40);
  } finally {
    store.dispose();
  }
});

test("bad scripts: a 400 JavaScriptException each, and nothing changes", { timeout: 60_000 }, async () => {
  const { store, database } = await createDatabaseAndStore(server, "patch-bad");
  try {
    await storeUser(store, "users/1");
    const etag = async () => (await store.maintenance.send(new GetStatisticsOperation())).lastDocEtag;
    const etagBefore = await etag();
    const scripts = {
      syntax: "this.age = ;",
      throws: "this.age = 1; throw new Error('no way');",
      loop: "this.age = 2; while (true) {}",
      allocation: "this.age = 3; const a = []; while (true) a.push(new Array(1e6).fill(1));",
    };
    for (const [what, script] of Object.entries(scripts)) {
      const res = await rawRequest(server, "PATCH", `/databases/${database}/docs?id=users/1`,
        { body: { Patch: { Script: script } } });
      assert.equal(res.status, 400, `${what}: ${res.text}`);
      assert.match(res.json.Type, /JavaScriptException/, what);
      // So does a batch holding it: the PUT before it is not written either.
      const batch = await rawRequest(server, "POST", `/databases/${database}/bulk_docs`, {
        body: { Commands: [{ Type: "PUT", Id: "other/1", Document: { a: 1 } },
                           { Type: "PATCH", Id: "users/1", Patch: { Script: script } }] },
      });
      assert.equal(batch.status, 400, `${what} in a batch: ${batch.text}`);
    }
    assert.match((await rawRequest(server, "PATCH", `/databases/${database}/docs?id=users/1`,
      { body: { Patch: { Script: "throw new Error('at line two')" } } })).json.Message, /at line two/);
    await rejectsNamed(store.operations.send(new PatchOperation("users/1", null, PatchRequest.forScript("throw 1"))),
      "JavaScriptException");
    assert.equal(await etag(), etagBefore);
    assert.equal((await load(store, "users/1")).age, 30);
    assert.equal(await load(store, "other/1"), null);
    // The engine works after all that.
    const ok = await store.operations.send(new PatchOperation("users/1", null, PatchRequest.forScript("this.age = 31")));
    assert.equal(ok.status, "Patched");
  } finally {
    store.dispose();
  }
});

test("PatchByQueryOperation: a long-running operation; a failing script faults it", { timeout: 60_000 }, async () => {
  const { store, database } = await createDatabaseAndStore(server, "patch-query");
  try {
    {
      const session = store.openSession();
      for (let i = 1; i <= 300; i++) await session.store(new User("u" + i, i), "users/" + i);
      await session.saveChanges();
    }
    const op = await store.operations.send(new PatchByQueryOperation(
      "from Users as u where u.age > 100 update { u.age = u.age + 1000; this.flag = 'x'; }"));
    await op.waitForCompletion();
    const state = await rawRequest(server, "GET", `/databases/${database}/operations/state?id=${op.id}`);
    assert.equal(state.json.Status, "Completed");
    assert.equal(state.json.Result.Total, 200);
    assert.deepEqual(state.json.Progress, { Processed: 200, Total: 200 });
    assert.equal((await load(store, "users/101")).age, 1101);
    assert.equal((await load(store, "users/300")).flag, "x");
    assert.equal((await load(store, "users/100")).age, 100);

    // Query parameters: $name in the update script (not inside its strings).
    const query = new IndexQuery("from Users where age = $age update { this.name = $name + '$name'; }");
    query.queryParameters = { age: 7, name: "seven" };
    const withParams = await store.operations.send(new PatchByQueryOperation(query));
    await withParams.waitForCompletion();
    assert.equal((await load(store, "users/7")).name, "seven$name");
    assert.equal((await load(store, "users/8")).name, "u8");

    const failing = await store.operations.send(new PatchByQueryOperation("from Users update { throw 5; }"));
    await rejectsNamed(failing.waitForCompletion(), "JavaScriptException");
  } finally {
    store.dispose();
  }
});

test("concurrent patches of one document lose no update (a raced script runs again)", { timeout: 60_000 }, async () => {
  const { store } = await createDatabaseAndStore(server, "patch-race");
  try {
    await storeUser(store, "users/1", "ann", 0);
    const n = 40;
    const results = await Promise.all(Array.from({ length: n }, () =>
      store.operations.send(new PatchOperation("users/1", null, PatchRequest.forScript("this.age = this.age + 1")))));
    for (const r of results) assert.equal(r.status, "Patched");
    assert.equal((await load(store, "users/1")).age, n);
    // The same through batches (session.advanced.increment).
    await Promise.all(Array.from({ length: n }, async () => {
      const session = store.openSession();
      session.advanced.increment("users/1", "age", 1);
      await session.saveChanges();
    }));
    assert.equal((await load(store, "users/1")).age, 2 * n);
  } finally {
    store.dispose();
  }
});

test("a batch's PATCH sees the batch's own earlier writes of its document", { timeout: 60_000 }, async () => {
  const { store, database } = await createDatabaseAndStore(server, "patch-in-batch");
  try {
    await storeUser(store, "users/1", "ann", 1);
    const res = await rawRequest(server, "POST", `/databases/${database}/bulk_docs`, {
      body: { Commands: [
        { Type: "PUT", Id: "users/2", Document: { name: "new", age: 10, "@metadata": { "@collection": "Users" } } },
        { Type: "PATCH", Id: "users/2", Patch: { Script: "this.age += 1; this.me = id(this)" } },
        { Type: "PATCH", Id: "users/1", Patch: { Script: "this.age += 1" } },
        { Type: "PATCH", Id: "users/1", Patch: { Script: "this.age *= 10" } },
        { Type: "DELETE", Id: "users/1" },
        { Type: "PATCH", Id: "users/1", Patch: { Script: "this.age = 0" },
          PatchIfMissing: { Script: "this.name = 'again'; this.age = 5" } },
      ] },
    });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.json.Results.filter((r) => r.Type === "PATCH").map((r) => r.PatchStatus),
      ["Patched", "Patched", "Patched", "Created"]);
    assert.equal((await load(store, "users/2")).age, 11);
    assert.equal((await load(store, "users/2")).me, "users/2");
    const again = await load(store, "users/1");
    assert.equal(again.name, "again");
    assert.equal(again.age, 5);
  } finally {
    store.dispose();
  }
});
