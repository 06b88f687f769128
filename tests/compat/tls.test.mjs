// HTTPS: the npm client with a client certificate (its authOptions, PEM, the
// test CA) against corvusd --certificate (a .pfx); plain HTTP to the same port
// gets a 400 naming the https URL. Certificates: deploy/test-certificates.sh.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { CreateDatabaseOperation, DocumentStore } from "ravendb";
import { CorvusdProcess, freePort, request, uniqueDbName } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
let dir;
let ca;
let clientPem;
const server = new CorvusdProcess();
let url;
let port;

// GET /healthz over HTTPS trusting the test CA; false on any failure.
function healthyOverTls(base) {
  return new Promise((resolve) => {
    const req = httpsRequest(`${base}/healthz`, { ca, timeout: 1000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200));
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => { req.destroy(); resolve(false); });
    req.end();
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "corvus-compat-tls-"));
  execFileSync(join(here, "../../deploy/test-certificates.sh"), [join(dir, "certs")], { stdio: "ignore" });
  ca = await readFile(join(dir, "certs/ca.pem"), "utf8");
  clientPem = await readFile(join(dir, "certs/client.pem"), "utf8");
  port = await freePort();
  url = `https://127.0.0.1:${port}`;
  await server.spawnAndWait(url, ["--server-url", url, "--data-dir", join(dir, "data"), "--cluster-port", "0",
    "--certificate", join(dir, "certs/server.pfx")], healthyOverTls);
}, { timeout: 60_000 });

after(async () => {
  await server.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("the npm client with a client certificate creates a database, stores and loads over HTTPS", async () => {
  const database = uniqueDbName("tls");
  const store = new DocumentStore(url, database);
  store.authOptions = { certificate: clientPem, type: "pem", ca };
  store.initialize();
  try {
    await store.maintenance.server.send(new CreateDatabaseOperation({ databaseName: database }));
    const session = store.openSession();
    await session.store({ name: "Ann", "@metadata": { "@collection": "Users" } }, "users/1");
    await session.saveChanges();
    const loaded = await store.openSession().load("users/1");
    assert.equal(loaded.name, "Ann");
  } finally {
    store.dispose();
  }
});

test("plain HTTP to the HTTPS port: 400 saying TLS is required and the https URL", async () => {
  const res = await request(`http://127.0.0.1:${port}`, "GET", "/databases/x/docs?id=a");
  assert.equal(res.status, 400);
  assert.match(res.json.Message, /requires TLS/);
  assert.ok(res.json.Message.includes(`https://127.0.0.1:${port}/databases/x/docs?id=a`), res.json.Message);
  assert.equal(res.json.Type, "Raven.Client.Exceptions.BadRequestException");
});
