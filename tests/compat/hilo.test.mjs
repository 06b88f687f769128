// HiLo id generation: ids like "users/1-A", unique across stores and across a
// server restart on the same data directory. Identities ("users|" ids) by hand:
// next, seed (raise; lower only when forced) and the list.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  CreateDatabaseOperation, NextIdentityForCommand, SeedIdentityForCommand, GetIdentitiesOperation,
} from "ravendb";
import { CorvusServer, openStore, uniqueDbName, countOfUserDocuments, withDatabaseStore, rawRequest } from "./harness.mjs";

let server;
before(async () => { server = await CorvusServer.create(); }, { timeout: 60_000 });
after(async () => { await server?.dispose(); });

class User {
  constructor(name) { this.name = name; }
}
class Company {
  constructor(name) { this.name = name; }
}

const ID_RE = /^users\/(\d+)-A$/;

// Stores `count` new Users without ids through one session; returns their ids.
async function storeUsers(store, count, label) {
  const session = store.openSession();
  const entities = [];
  for (let i = 0; i < count; i++) {
    const u = new User(`${label}-${i}`);
    await session.store(u);
    entities.push(u);
  }
  await session.saveChanges();
  return entities.map((e) => session.advanced.getDocumentId(e));
}

function assertUserIds(ids) {
  for (const id of ids) assert.match(id, ID_RE);
}

test("store without id gets HiLo ids that never repeat across stores and restarts", { timeout: 90_000 }, async () => {
  const db = uniqueDbName("hilo");
  const all = [];
  const names = new Map();

  const admin = openStore(server, db);
  await admin.maintenance.server.send(new CreateDatabaseOperation({ databaseName: db }));
  admin.dispose();

  const a = openStore(server, db);
  const b = openStore(server, db);
  let c;
  try {
    const idsA1 = await storeUsers(a, 5, "a1");
    assertUserIds(idsA1);
    // Within one store the numbers are consecutive and start at 1 on a fresh database.
    assert.deepEqual(idsA1.map((id) => Number(ID_RE.exec(id)[1])), [1, 2, 3, 4, 5]);

    const idsB = await storeUsers(b, 40, "b"); // more than one default range (32)
    assertUserIds(idsB);
    const idsA2 = await storeUsers(a, 3, "a2");
    assertUserIds(idsA2);
    all.push(...idsA1, ...idsB, ...idsA2);

    // Other collections get their own prefix.
    const s = a.openSession();
    const co = new Company("Acme");
    await s.store(co);
    await s.saveChanges();
    assert.match(s.advanced.getDocumentId(co), /^companies\/\d+-A$/);

    // A returns its unused range on dispose, while B still holds a range:
    // ids handed out afterwards must not collide with B's.
    a.dispose();
    c = openStore(server, db);
    const idsC = await storeUsers(c, 10, "c");
    assertUserIds(idsC);
    all.push(...idsC);
    const idsB2 = await storeUsers(b, 5, "b2");
    all.push(...idsB2);

    assert.equal(new Set(all.map((x) => x.toLowerCase())).size, all.length, `duplicate ids in ${JSON.stringify(all)}`);
    assert.equal(await countOfUserDocuments(c), all.length + 1, "every generated id is a distinct document");
  } finally {
    a.dispose();
    b.dispose();
    c?.dispose();
  }

  // Restart the server on the same data dir: documents survive and new ids
  // continue past every id handed out before.
  // A store that stays open across the restart keeps working when the server
  // comes back on the same URL (its cached topology and connections go stale).
  const urlBefore = server.url;
  const survivor = openStore(server, db);
  assert.ok(await survivor.openSession().load(all[0]));
  await server.restart();
  try {
    if (server.url === urlBefore) {
      const doc = await survivor.openSession().load(all[1]);
      assert.ok(doc, `${all[1]} loaded by a store opened before the restart`);
      const s = survivor.openSession();
      await s.store(new User("survivor"), "users/survivor");
      await s.saveChanges();
    }
  } finally {
    survivor.dispose();
  }
  const d = openStore(server, db);
  const e = openStore(server, db);
  try {
    const session = d.openSession();
    const reloaded = await session.load(all.slice(0, 20));
    for (const id of all.slice(0, 20)) assert.ok(reloaded[id], `${id} survived the restart`);

    const idsD = await storeUsers(d, 5, "d");
    const idsE = await storeUsers(e, 5, "e");
    assertUserIds([...idsD, ...idsE]);
    const before = new Set(all.map((x) => x.toLowerCase()));
    for (const id of [...idsD, ...idsE]) assert.ok(!before.has(id.toLowerCase()), `${id} was already handed out before the restart`);
    const after = [...all, ...idsD, ...idsE];
    assert.equal(new Set(after).size, after.length);

    const survivorDoc = await d.openSession().advanced.exists("users/survivor") ? 1 : 0;
    assert.equal(await countOfUserDocuments(d), after.length + 1 + survivorDoc);
  } finally {
    d.dispose();
    e.dispose();
  }
});

test("HiLo raw protocol: next returns a non-overlapping range with the fields the client reads", { timeout: 30_000 }, async () => {
  const db = uniqueDbName("hiloraw");
  const admin = openStore(server, db);
  try {
    await admin.maintenance.server.send(new CreateDatabaseOperation({ databaseName: db }));
  } finally {
    admin.dispose();
  }
  const q = (lastMax) => `/databases/${db}/hilo/next?lastBatchSize=0&tag=things&lastRangeAt=1970-01-01T00%3A00%3A00.0000000Z&identityPartsSeparator=/&lastMax=${lastMax}`;
  const r1 = await fetch(server.url + q(0)).then((r) => r.json());
  for (const k of ["Prefix", "Low", "High", "LastSize", "ServerTag", "LastRangeAt"]) assert.ok(k in r1, `${k} in ${JSON.stringify(r1)}`);
  assert.equal(r1.Prefix, "things/");
  assert.equal(r1.ServerTag, "A");
  assert.ok(r1.Low >= 1 && r1.High >= r1.Low);
  const r2 = await fetch(server.url + q(r1.High)).then((r) => r.json());
  assert.ok(r2.Low > r1.High, `second range ${JSON.stringify(r2)} overlaps first ${JSON.stringify(r1)}`);
});

test("identities: next, seed (never lowered unless forced), the list, and the ids a session gets", { timeout: 30_000 }, async () => {
  await withDatabaseStore(server, "identities", async (store, database) => {
    const send = async (command) => { await store.getRequestExecutor().execute(command); return command.result; };
    assert.equal(await send(new NextIdentityForCommand("users")), 1);
    assert.equal(await send(new NextIdentityForCommand("users|")), 2);  // the same identity
    assert.equal(await send(new SeedIdentityForCommand("users", 10)), 10);
    assert.equal(await send(new SeedIdentityForCommand("users", 5)), 10);  // not lowered
    const session = store.openSession();
    const u = new User("ident");
    await session.store(u, "users|");
    await session.saveChanges();
    assert.equal(u.id, "users/11");
    assert.deepEqual(await store.maintenance.send(new GetIdentitiesOperation()), { "users|": 11 });
    assert.equal(await send(new SeedIdentityForCommand("users", 3, true)), 3);  // forced
    assert.deepEqual(await store.maintenance.send(new GetIdentitiesOperation()), { "users|": 3 });
    // Bad input: a 400 that changes nothing.
    for (const path of [`/identity/seed?name=users`, `/identity/seed?name=users&value=x`, `/identity/next`,
                        `/identity/seed?name=users&value=9&force=maybe`]) {
      const r = await rawRequest(server, "POST", `/databases/${database}${path}`);
      assert.equal(r.status, 400, path);
      assert.ok(r.json.Message, path);
    }
    assert.deepEqual(await store.maintenance.send(new GetIdentitiesOperation()), { "users|": 3 });
  });
});
