// HTTPS: the npm client with a client certificate (its authOptions, PEM, the
// test CA) against corvusd --certificate (a .pfx), the client certificate
// being the bootstrap admin (--admin-certificate-thumbprint); without a
// certificate, or with one nobody registered, the client gets
// AuthorizationException with the server's explanation; plain HTTP to the same
// port gets a 400 naming the https URL. Certificates: deploy/test-certificates.sh
// (and openssl for the unregistered one).

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
let strangerPem;
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
  const fingerprint = execFileSync("openssl", ["x509", "-in", join(dir, "certs/client.pem"), "-noout", "-fingerprint",
    "-sha1"]).toString();
  const adminThumbprint = fingerprint.split("=")[1].trim().replaceAll(":", "");
  // A certificate no one registered (self-signed; key in PKCS#1, what the client's "pem" parse reads).
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=stranger",
    "-keyout", join(dir, "stranger.key"), "-out", join(dir, "stranger.crt")], { stdio: "ignore" });
  execFileSync("openssl", ["rsa", "-in", join(dir, "stranger.key"), "-traditional", "-out", join(dir, "stranger.rsa")],
    { stdio: "ignore" });
  strangerPem = (await readFile(join(dir, "stranger.rsa"), "utf8")) + (await readFile(join(dir, "stranger.crt"), "utf8"));
  port = await freePort();
  url = `https://127.0.0.1:${port}`;
  await server.spawnAndWait(url, ["--server-url", url, "--data-dir", join(dir, "data"), "--cluster-port", "0",
    "--certificate", join(dir, "certs/server.pfx"), "--admin-certificate-thumbprint", adminThumbprint], healthyOverTls);
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

test("the Changes API over wss:// with the client certificate", { timeout: 30_000 }, async () => {
  const database = uniqueDbName("tls_changes");
  const store = new DocumentStore(url, database);
  store.authOptions = { certificate: clientPem, type: "pem", ca };
  store.initialize();
  let changes;
  try {
    await store.maintenance.server.send(new CreateDatabaseOperation({ databaseName: database }));
    changes = store.changes();
    const events = [];
    const observable = changes.forDocument("users/1");
    observable.on("data", (e) => events.push(e));
    await observable.ensureSubscribedNow();
    const session = store.openSession();
    await session.store({ name: "Ann" }, "users/1");
    await session.saveChanges();
    const deadline = Date.now() + 10_000;
    while (events.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(events.map((e) => [e.type, e.id]), [["Put", "users/1"]]);
  } finally {
    changes?.dispose();
    store.dispose();
  }
});

test("with an unregistered certificate: AuthorizationException saying why; without one: 403 saying so", async () => {
  const database = uniqueDbName("tls");
  const admin = new DocumentStore(url, database);
  admin.authOptions = { certificate: clientPem, type: "pem", ca };
  admin.initialize();
  await admin.maintenance.server.send(new CreateDatabaseOperation({ databaseName: database }));
  admin.dispose();
  // An unregistered certificate through the client: AuthorizationException with the server's message.
  const store = new DocumentStore(url, database);
  store.authOptions = { certificate: strangerPem, type: "pem", ca };
  store.initialize();
  try {
    await assert.rejects(store.openSession().load("users/1"),
      (err) => err.name === "AuthorizationException" &&
        /is not registered on this cluster[\s\S]*PUT \/admin\/certificates/.test(err.message));
  } finally {
    store.dispose();
  }
  // No certificate (the client always sends one once authOptions is set): the raw answer.
  const res = await new Promise((resolve, reject) => {
    const req = httpsRequest(`${url}/databases/${database}/docs?id=users/1`, { ca, timeout: 5000 }, (r) => {
      let body = "";
      r.on("data", (c) => { body += c; });
      r.on("end", () => resolve({ status: r.statusCode, json: JSON.parse(body) }));
    });
    req.on("error", reject);
    req.end();
  });
  assert.equal(res.status, 403);
  assert.match(res.json.Message, /requires client certificate/);
});

test("plain HTTP to the HTTPS port: 400 saying TLS is required and the https URL", async () => {
  const res = await request(`http://127.0.0.1:${port}`, "GET", "/databases/x/docs?id=a");
  assert.equal(res.status, 400);
  assert.match(res.json.Message, /requires TLS/);
  assert.ok(res.json.Message.includes(`https://127.0.0.1:${port}/databases/x/docs?id=a`), res.json.Message);
  assert.equal(res.json.Type, "Raven.Client.Exceptions.BadRequestException");
});

test("data subscriptions over TLS: the worker pins the advertised certificate; an unregistered certificate is refused on the TCP port", { timeout: 60_000 }, async () => {
  const database = uniqueDbName("tlssubs");
  const store = new DocumentStore(url, database);
  store.authOptions = { certificate: clientPem, type: "pem", ca };
  store.initialize();
  let worker;
  try {
    await store.maintenance.server.send(new CreateDatabaseOperation({ databaseName: database }));
    const session = store.openSession();
    for (let i = 0; i < 3; i++) await session.store({ n: i, "@metadata": { "@collection": "Users" } }, `users/${i}`);
    await session.saveChanges();
    const name = await store.subscriptions.create({ query: "from Users" });
    worker = store.subscriptions.getSubscriptionWorker({ subscriptionName: name });
    const seen = [];
    const errors = [];
    worker.on("batch", (batch, callback) => { seen.push(...batch.items.map((x) => x.id)); callback(); });
    worker.on("error", (e) => errors.push(e));
    const deadline = Date.now() + 15_000;
    while (seen.length < 3 && errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(errors, []);
    assert.deepEqual(seen, ["users/0", "users/1", "users/2"]);

    // The TCP port itself: TLS with the server certificate the HTTP side
    // advertises; a certificate nobody registered gets AuthorizationFailed.
    const info = await new Promise((resolve, reject) => {
      const req = httpsRequest(`${url}/info/tcp`, { ca, cert: clientPem, key: clientPem }, (res) => {
        let body = "";
        res.on("data", (d) => { body += d; });
        res.on("end", () => resolve(JSON.parse(body)));
      });
      req.on("error", reject);
      req.end();
    });
    assert.ok(info.Certificate, "the certificate to pin");
    const [host, tcpPort] = info.Url.slice("tcp://".length).split(":");
    const tls = await import("node:tls");
    const reply = await new Promise((resolve, reject) => {
      const socket = tls.connect({ host, port: Number(tcpPort), ca, cert: strangerPem, key: strangerPem,
                                   checkServerIdentity: () => undefined }, () => {
        socket.write(JSON.stringify({ DatabaseName: database, Operation: "Subscription", OperationVersion: 53000 }));
      });
      let text = "";
      socket.on("data", (d) => { text += d; });
      socket.on("end", () => resolve(text));
      socket.on("error", reject);
      setTimeout(() => { socket.destroy(); resolve(text); }, 10_000);
    });
    const parsed = JSON.parse(reply);
    assert.equal(parsed.Status, "AuthorizationFailed");
    assert.match(parsed.Message, /certificate/i);
  } finally {
    worker?.dispose();
    store.dispose();
  }
});
