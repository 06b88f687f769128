// Durability: acknowledged writes, deletes, HiLo ranges and databases survive a
// graceful restart and a SIGKILL of corvusd on the same data directory.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { CreateDatabaseOperation, GetDatabaseNamesOperation } from "ravendb";
import { CorvusServer, openStore, uniqueDbName, countOfUserDocuments } from "./harness.mjs";

let server;
before(async () => { server = await CorvusServer.create(); }, { timeout: 60_000 });
after(async () => { await server?.dispose(); });

class Note {
  constructor(text) { this.text = text; }
}

for (const mode of ["graceful", "sigkill"]) {
  test(`acknowledged state survives a ${mode} restart`, { timeout: 60_000 }, async () => {
    const db = uniqueDbName(`dur_${mode}`);
    const store = openStore(server, db);
    const generated = [];
    let cvBefore;
    try {
      await store.maintenance.server.send(new CreateDatabaseOperation({ databaseName: db }));
      const s = store.openSession();
      for (let i = 0; i < 10; i++) await s.store({ i }, `dur/${i}`);
      for (let i = 0; i < 5; i++) {
        const n = new Note(`n${i}`);
        await s.store(n);
        generated.push(n);
      }
      await s.saveChanges();
      const ids = generated.map((n) => s.advanced.getDocumentId(n));
      generated.length = 0;
      generated.push(...ids);
      const s2 = store.openSession();
      s2.delete("dur/0");
      (await s2.load("dur/1")).i = 100;
      await s2.saveChanges();
      cvBefore = s2.advanced.getChangeVectorFor(await s2.load("dur/1"));
    } finally {
      // For the SIGKILL case the store is not disposed before the crash, so
      // its HiLo range is never returned: the next ids must still be fresh.
      if (mode === "graceful") store.dispose();
    }

    if (mode === "sigkill") {
      await server.crash();
      store.dispose();
      await server.start({ keepPort: true });
    } else {
      await server.restart();
    }

    const after = openStore(server, db);
    try {
      const names = await after.maintenance.server.send(new GetDatabaseNamesOperation(0, 1000));
      assert.ok(names.includes(db), `${db} survives the restart`);
      const s = after.openSession();
      const docs = await s.load(Array.from({ length: 10 }, (_, i) => `dur/${i}`));
      assert.equal(docs["dur/0"], null, "delete survived");
      assert.equal(docs["dur/1"].i, 100, "update survived");
      assert.equal(s.advanced.getChangeVectorFor(docs["dur/1"]), cvBefore, "change vector unchanged by restart");
      for (let i = 2; i < 10; i++) assert.equal(docs[`dur/${i}`].i, i);
      const notes = await s.load(generated);
      for (const id of generated) assert.ok(notes[id], `${id} survived`);

      const s2 = after.openSession();
      const fresh = [];
      for (let i = 0; i < 5; i++) {
        const n = new Note(`after${i}`);
        await s2.store(n);
        fresh.push(n);
      }
      await s2.saveChanges();
      for (const n of fresh) {
        const id = s2.advanced.getDocumentId(n);
        assert.ok(!generated.includes(id), `${id} was handed out before the ${mode} restart`);
      }
      assert.equal(await countOfUserDocuments(after), 9 + generated.length + fresh.length);

      // Writes after the restart get change vectors that differ from before.
      const s3 = after.openSession();
      (await s3.load("dur/1")).i = 101;
      await s3.saveChanges();
      assert.notEqual(s3.advanced.getChangeVectorFor(await s3.load("dur/1")), cvBefore);
    } finally {
      after.dispose();
    }
  });
}
