// Test harness: runs a real corvusd on a free 127.0.0.1 port with a fresh
// temporary data directory, and hands out DocumentStores of the official
// npm `ravendb` client pointed at it. CorvusdProcess, freePort, sleep and
// request are shared with cluster.mjs's three-node cluster.
//
// The corvusd binary comes from $CORVUSD (set by run.sh).

import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { DocumentStore, CreateDatabaseOperation, GetStatisticsOperation } from "ravendb";

const STARTUP_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

// Every child we spawned and have not reaped yet; killed on abnormal exit so a
// failing or interrupted test run never leaves a corvusd behind.
const live = new Set();
process.on("exit", () => {
  for (const child of live) {
    try { child.kill("SIGKILL"); } catch { /* already gone */ }
  }
});
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => process.exit(130));
}

export function corvusdPath() {
  const p = process.env.CORVUSD;
  if (!p) throw new Error("CORVUSD is not set (path to the corvusd binary); use tests/compat/run.sh");
  return p;
}

// Below the kernel's ephemeral range (32768+), where any outgoing connection
// of a test running in parallel could take the port before corvusd binds it;
// and apart from the ranges the C++ tests (10000-19999) and the local-cluster
// smoke test (20000-32000) use.
function canListen(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

// Ports the Fetch standard blocks ("bad port"): Node's fetch, which the client
// uses, refuses them outright, so a server there cannot be reached (seen in CI:
// a server on 6679). The ones in the range we pick from.
const FETCH_BAD_PORTS = new Set([5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697]);

export async function freePort() {
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = 5000 + Math.floor(Math.random() * 5000);
    if (FETCH_BAD_PORTS.has(port)) continue;
    if (await canListen(port)) return port;
  }
  throw new Error("no free port in 5000-9999");
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function healthy(url) {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

// Plain HTTP: { status, headers, text, json } (json null when the body is not
// JSON). A string body is sent as it is, anything else as JSON. Throws when
// there is no answer within timeoutMs.
export async function request(url, method, path, { body, headers, timeoutMs = 10_000 } = {}) {
  const res = await fetch(url + path, {
    method,
    headers: { ...(body !== undefined ? { "Content-Type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : (typeof body === "string" ? body : JSON.stringify(body)),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

// One corvusd child process at a time: spawnAndWait() starts it, stop()
// (SIGTERM) or crash() (SIGKILL) ends it; then it may be started again.
// `stderr` keeps the tail of its output for error messages.
export class CorvusdProcess {
  constructor() {
    this.child = null;
    this.stderr = "";
  }

  get running() { return this.child !== null; }

  // Spawns corvusd with `args` and waits until `url` answers GET /healthz
  // with 200 (`isHealthy(url)` decides, e.g. over HTTPS with a test CA).
  // Throws, with the tail of stderr, if it exits first or does not answer
  // within STARTUP_TIMEOUT_MS (then it is killed).
  async spawnAndWait(url, args, isHealthy = healthy) {
    if (this.child) throw new Error(`${url} already running`);
    this.stderr = "";
    const child = spawn(corvusdPath(), args, { stdio: ["ignore", "ignore", "pipe"] });
    this.child = child;
    live.add(child);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      // Keep the tail only; it is attached to error messages.
      this.stderr = (this.stderr + chunk).slice(-8000);
    });
    let exited = null;
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      live.delete(child);
    });
    child.once("error", (err) => { exited = { error: String(err) }; });

    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exited) {
        this.child = null;
        throw new Error(`corvusd ${url} exited during startup (${JSON.stringify(exited)}); stderr:\n${this.stderr}`);
      }
      if (await isHealthy(url)) return;
      await sleep(100);
    }
    await this.crash();
    throw new Error(`corvusd did not answer GET /healthz within ${STARTUP_TIMEOUT_MS} ms on ${url}; stderr:\n${this.stderr}`);
  }

  // Graceful stop (SIGTERM), escalating to SIGKILL after a bound.
  async stop() {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      if (child) live.delete(child);
      return;
    }
    const gone = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await gone;
    clearTimeout(timer);
    live.delete(child);
  }

  // Abrupt stop (kill -9): nothing gets a chance to flush or say goodbye.
  async crash() {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await gone;
    live.delete(child);
  }
}

// A corvusd process bound to one data directory. start()/stop() may be called
// repeatedly (restart with the same data dir); dispose() stops it and removes
// the directory.
export class CorvusServer extends CorvusdProcess {
  constructor(dataDir, { ownsDataDir = true } = {}) {
    super();
    this.dataDir = dataDir;
    this.ownsDataDir = ownsDataDir;
    this.port = 0;
    this.url = null;
  }

  static async create() {
    const dir = await mkdtemp(join(tmpdir(), "corvus-compat-"));
    const server = new CorvusServer(dir);
    try {
      await server.start();
    } catch (e) {
      await server.dispose();
      throw e;
    }
    return server;
  }

  // keepPort: try the previous port first (a restart keeps the URL stable).
  async start({ keepPort = false } = {}) {
    if (this.child) throw new Error("corvusd already running");
    // A port that was free a moment ago may be taken by the time corvusd
    // binds it (other engineers run servers on this machine): retry a few times.
    let lastError;
    for (let attempt = 0; attempt < 3; attempt++) {
      this.port = keepPort && attempt === 0 && this.port ? this.port : await freePort();
      this.url = `http://127.0.0.1:${this.port}`;
      try {
        await this.spawnAndWait(this.url, ["--server-url", this.url, "--data-dir", this.dataDir]);
        return;
      } catch (e) {
        lastError = e;
        await this.stop();
      }
    }
    throw lastError;
  }

  async restart() {
    await this.stop();
    await this.start({ keepPort: true });
  }

  async dispose() {
    await this.stop();
    if (this.ownsDataDir && this.dataDir) {
      await rm(this.dataDir, { recursive: true, force: true });
    }
  }
}

export function uniqueDbName(prefix = "db") {
  return `${prefix}_${randomBytes(4).toString("hex")}`;
}

// A DocumentStore for `database` on `server`, already initialized.
export function openStore(server, database, configure) {
  const store = new DocumentStore(server.url, database);
  if (configure) configure(store);
  store.initialize();
  return store;
}

// Creates a fresh database through the client and returns an initialized store for it.
export async function createDatabaseAndStore(server, prefix = "db", configure) {
  const database = uniqueDbName(prefix);
  const store = openStore(server, database, configure);
  try {
    await store.maintenance.server.send(new CreateDatabaseOperation({ databaseName: database }));
  } catch (e) {
    store.dispose();  // its timers would keep the test process alive after the failure
    throw e;
  }
  return { store, database };
}

// Asserts that `promise` rejects with a client error named `name`; returns the error.
export async function rejectsNamed(promise, name) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  if (!err) throw new Error(`expected ${name}, but the call succeeded`);
  if (err.name !== name) {
    const e = new Error(`expected ${name}, got ${err.name}: ${err.message}`);
    e.cause = err;
    throw e;
  }
  return err;
}

// Plain HTTP against the server, for assertions the client does not expose.
// Runs `fn(store, database)` on a fresh database of `server`, disposing the store after.
export async function withDatabaseStore(server, prefix, fn, configure) {
  const { store, database } = await createDatabaseAndStore(server, prefix, configure);
  try {
    return await fn(store, database);
  } finally {
    store.dispose();
  }
}

export async function rawRequest(server, method, path, { body, headers } = {}) {
  return request(server.url, method, path, { body, headers });
}

// Documents in the database apart from the HiLo documents ("Raven/Hilo/<tag>",
// collection @hilo), which RavenDB counts as documents too.
export async function countOfUserDocuments(store) {
  const stats = await store.maintenance.send(new GetStatisticsOperation());
  const session = store.openSession();
  const hilo = await session.advanced.loadStartingWith("Raven/Hilo/");
  return stats.countOfDocuments - Object.keys(hilo).length;
}

// Stores `doc` as `id` in a session of its own.
export async function putDocument(store, id, doc) {
  const s = store.openSession();
  await s.store(doc, id);
  await s.saveChanges();
}

// Polls (bounded) until `id` loads on `store`; whether it did.
export async function arrives(store, id, ms = 20_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const s = store.openSession();
    if (await s.load(id)) return true;
    await sleep(100);
  }
  return false;
}
