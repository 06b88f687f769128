// Attachments through the unmodified client: session.advanced.attachments
// store (Buffer and stream, sent as a multipart batch) / get / exists /
// getNames / delete, the operations (PUT/GET/DELETE /attachments), and two
// documents sharing the same bytes.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { createHash, randomBytes } from "node:crypto";
import { PutAttachmentOperation, GetAttachmentOperation, DeleteAttachmentOperation } from "ravendb";
import { CorvusServer, withDatabaseStore } from "./harness.mjs";

const T = { timeout: 30_000 };
let server;

before(async () => { server = await CorvusServer.create(); }, { timeout: 60_000 });
after(async () => { await server?.dispose(); });

const withStore = (prefix, fn, configure) => withDatabaseStore(server, prefix, fn, configure);

async function readAll(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

const sha256 = (buf) => createHash("sha256").update(buf).digest("base64");

test("session stores a Buffer and a stream; get reads them back fully", T, () => withStore("att", async (store) => {
  const picture = randomBytes(300_000);
  const text = Buffer.from("hello attachments");
  {
    const session = store.openSession();
    await session.store({ name: "ann" }, "users/1");
    session.advanced.attachments.store("users/1", "picture.png", picture, "image/png");
    session.advanced.attachments.store("users/1", "notes.txt", Readable.from([text]), "text/plain");
    await session.saveChanges();
  }
  const session = store.openSession();
  const user = await session.load("users/1");
  const md = session.advanced.getMetadataFor(user);
  assert.match(md["@flags"], /HasAttachments/);
  assert.deepEqual(md["@attachments"].map((a) => a.name), ["notes.txt", "picture.png"]);
  const pictureMeta = md["@attachments"].find((a) => a.name === "picture.png");
  assert.equal(pictureMeta.size, picture.length);
  assert.equal(pictureMeta.hash, sha256(picture));
  assert.equal(pictureMeta.contentType, "image/png");

  const got = await session.advanced.attachments.get("users/1", "picture.png");
  try {
    assert.equal(got.details.contentType, "image/png");
    assert.equal(got.details.size, picture.length);
    assert.equal(got.details.hash, sha256(picture));
    assert.ok(got.details.changeVector);
    assert.ok((await readAll(got.data)).equals(picture));
  } finally {
    got.dispose();
  }
  const notes = await session.advanced.attachments.get("users/1", "notes.txt");
  try {
    assert.equal((await readAll(notes.data)).toString(), text.toString());
  } finally {
    notes.dispose();
  }
  assert.equal(await session.advanced.attachments.get("users/1", "missing.png"), null);
}));

test("exists, getNames and delete", T, () => withStore("att", async (store) => {
  {
    const session = store.openSession();
    await session.store({ name: "bob" }, "users/2");
    session.advanced.attachments.store("users/2", "a.bin", Buffer.from([1, 2, 3]));
    session.advanced.attachments.store("users/2", "b.bin", Buffer.from([4, 5]));
    await session.saveChanges();
  }
  {
    const session = store.openSession();
    assert.equal(await session.advanced.attachments.exists("users/2", "a.bin"), true);
    assert.equal(await session.advanced.attachments.exists("users/2", "zzz.bin"), false);
    const user = await session.load("users/2");
    const names = session.advanced.attachments.getNames(user).map((a) => a.name);
    assert.deepEqual(names, ["a.bin", "b.bin"]);
    session.advanced.attachments.delete("users/2", "a.bin");
    await session.saveChanges();
  }
  const session = store.openSession();
  assert.equal(await session.advanced.attachments.exists("users/2", "a.bin"), false);
  const user = await session.load("users/2");
  assert.deepEqual(session.advanced.attachments.getNames(user).map((a) => a.name), ["b.bin"]);
}));

test("two documents share the same bytes; deleting one keeps them for the other", T, () => withStore("att", async (store) => {
  const bytes = randomBytes(50_000);
  {
    const session = store.openSession();
    await session.store({ n: 1 }, "docs/1");
    await session.store({ n: 2 }, "docs/2");
    session.advanced.attachments.store("docs/1", "same", bytes);
    session.advanced.attachments.store("docs/2", "same", Buffer.from(bytes));
    await session.saveChanges();
  }
  {
    const session = store.openSession();
    await session.delete("docs/1");
    await session.saveChanges();
  }
  const session = store.openSession();
  assert.equal(await session.advanced.attachments.exists("docs/1", "same"), false);
  const got = await session.advanced.attachments.get("docs/2", "same");
  try {
    assert.equal(got.details.hash, sha256(bytes));
    assert.ok((await readAll(got.data)).equals(bytes));
  } finally {
    got.dispose();
  }
}));

// (The operation's PUT takes a Buffer: this client's fetch cannot send a
// Readable without `duplex`, a client limitation; streams go through sessions.)
test("operations: PUT, GET, DELETE; a missing document is refused", T, () => withStore("att", async (store) => {
  {
    const session = store.openSession();
    await session.store({ n: 1 }, "items/1");
    await session.saveChanges();
  }
  const data = randomBytes(1_000_000);
  const details = await store.operations.send(
    new PutAttachmentOperation("items/1", "data.bin", data, "application/x-test"));
  assert.equal(details.size, data.length);
  assert.equal(details.hash, sha256(data));
  assert.equal(details.documentId, "items/1");

  const got = await store.operations.send(new GetAttachmentOperation("items/1", "data.bin", "Document", null));
  try {
    assert.ok((await readAll(got.data)).equals(data));
  } finally {
    got.dispose();
  }
  await store.operations.send(new DeleteAttachmentOperation("items/1", "data.bin"));
  const session = store.openSession();
  assert.equal(await session.advanced.attachments.exists("items/1", "data.bin"), false);

  // 404 DocumentDoesNotExist, as RavenDB answers; this client turns a 404 on
  // this command into a MappingError ("Body stream cannot be null").
  await assert.rejects(store.operations.send(new PutAttachmentOperation("items/404", "x.bin", Buffer.from("x"))));
  assert.equal(await store.openSession().advanced.attachments.exists("items/404", "x.bin"), false);
}));
