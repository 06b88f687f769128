// A three-node corvusd cluster for the compat tests: each node on its own free
// 127.0.0.1 HTTP port and Rachis port with its own temporary data directory,
// the cluster formed over HTTP (PUT /admin/cluster/node on the first node, as
// an operator would). Nodes can be killed (-9), stopped (SIGTERM) and started
// again on the same ports and directory. Every wait is bounded.
//
// The corvusd binary comes from $CORVUSD (set by run.sh), as in harness.mjs.

import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { corvusdPath } from "./harness.mjs";

const STARTUP_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
export const CLUSTER_WAIT_MS = 30_000;

// Children not reaped yet; killed if the test process exits abnormally.
const live = new Set();
process.on("exit", () => {
  for (const child of live) {
    try { child.kill("SIGKILL"); } catch { /* already gone */ }
  }
});

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `f` (async, truthy = done) every 100 ms for at most `timeoutMs`;
// returns its last result.
export async function eventually(f, timeoutMs = CLUSTER_WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let v;
    try { v = await f(); } catch { v = undefined; }
    if (v || Date.now() >= deadline) return v;
    await sleep(100);
  }
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Plain HTTP to one node: { status, headers, json, text }; status 0 when it
// does not answer.
export async function http(url, method, path, body) {
  try {
    const res = await fetch(url + path, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, text, json };
  } catch (e) {
    return { status: 0, headers: new Headers(), text: String(e), json: null };
  }
}

export class ClusterNode {
  constructor(dataDir, httpPort, clusterPort) {
    this.dataDir = dataDir;
    this.httpPort = httpPort;
    this.clusterPort = clusterPort;
    this.url = `http://127.0.0.1:${httpPort}`;
    this.tag = null;  // known once the cluster is formed
    this.child = null;
    this.stderr = "";
  }

  get running() { return this.child !== null; }

  async start() {
    if (this.child) throw new Error(`${this.url} already running`);
    this.stderr = "";
    const child = spawn(corvusdPath(), [
      "--server-url", this.url, "--data-dir", this.dataDir,
      "--cluster-port", String(this.clusterPort),
      "--cluster-tick-ms", "50", "--cluster-election-ticks", "20", "--threads", "2",
    ], { stdio: ["ignore", "ignore", "pipe"] });
    this.child = child;
    live.add(child);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => { this.stderr = (this.stderr + chunk).slice(-8000); });
    let exited = null;
    child.once("exit", (code, signal) => { exited = { code, signal }; live.delete(child); });
    child.once("error", (err) => { exited = { error: String(err) }; });
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exited) {
        this.child = null;
        throw new Error(`corvusd ${this.url} exited during startup (${JSON.stringify(exited)}); stderr:\n${this.stderr}`);
      }
      if ((await http(this.url, "GET", "/healthz")).status === 200) return;
      await sleep(100);
    }
    await this.crash();
    throw new Error(`corvusd did not answer /healthz within ${STARTUP_TIMEOUT_MS} ms on ${this.url}; stderr:\n${this.stderr}`);
  }

  // SIGTERM, escalating to SIGKILL after a bound.
  async stop() {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await gone;
    clearTimeout(timer);
  }

  // kill -9: nothing gets a chance to flush or say goodbye.
  async crash() {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await gone;
  }

  async clusterTopology() {
    if (!this.running) return null;
    const r = await http(this.url, "GET", "/cluster/topology");
    return r.status === 200 ? r.json : null;
  }
}

export class CorvusCluster {
  constructor(dir, nodes) {
    this.dir = dir;
    this.nodes = nodes;
  }

  // Starts `n` fresh nodes and forms them into one cluster.
  static async create(n = 3) {
    const dir = await mkdtemp(join(tmpdir(), "corvus-compat-cluster-"));
    const cluster = new CorvusCluster(dir, []);
    try {
      const used = new Set();
      const port = async () => {
        for (;;) {
          const p = await freePort();
          if (!used.has(p)) { used.add(p); return p; }
        }
      };
      for (let i = 0; i < n; i++) {
        // A port free a moment ago may be taken before corvusd binds it (the
        // machine is shared): try a few.
        let lastError;
        for (let attempt = 0; attempt < 3; attempt++) {
          const node = new ClusterNode(join(dir, `n${i}`), await port(), await port());
          try {
            await node.start();
            cluster.nodes.push(node);
            lastError = null;
            break;
          } catch (e) {
            lastError = e;
            await node.crash();
          }
        }
        if (lastError) throw lastError;
      }
      await cluster.form();
    } catch (e) {
      await cluster.dispose();
      throw e;
    }
    return cluster;
  }

  get urls() { return this.nodes.map((n) => n.url); }
  get tags() { return this.nodes.map((n) => n.tag).sort(); }
  node(tag) { return this.nodes.find((n) => n.tag === tag); }

  async members(i) {
    const t = await this.nodes[i].clusterTopology();
    return t ? Object.keys(t.Topology.Members) : [];
  }

  async form() {
    const leads = await eventually(async () => (await this.nodes[0].clusterTopology())?.CurrentState === "Leader");
    if (!leads) throw new Error(`node 0 never became leader of its own cluster; stderr:\n${this.nodes[0].stderr}`);
    for (let i = 1; i < this.nodes.length; i++) {
      const added = await eventually(async () =>
        (await http(this.nodes[0].url, "PUT", `/admin/cluster/node?url=${encodeURIComponent(this.nodes[i].url)}`)).status === 200);
      if (!added) throw new Error(`could not add ${this.nodes[i].url} to the cluster`);
      const promoted = await eventually(async () => (await this.members(0)).length === i + 1);
      if (!promoted) throw new Error(`${this.nodes[i].url} was not promoted; stderr:\n${this.nodes[i].stderr}`);
    }
    if (!(await this.stable())) throw new Error("the cluster did not converge");
    for (const node of this.nodes) node.tag = (await node.clusterTopology()).NodeTag;
  }

  // Every running node sees all members and the same leader, and that leader
  // is running and says so (not a killed one the others have not noticed yet).
  async stable() {
    return eventually(async () => {
      const leaders = new Set();
      for (let i = 0; i < this.nodes.length; i++) {
        if (!this.nodes[i].running) continue;
        const t = await this.nodes[i].clusterTopology();
        if (!t || Object.keys(t.Topology.Members).length !== this.nodes.length || !t.Leader) return false;
        leaders.add(t.Leader);
      }
      if (leaders.size !== 1) return false;
      const [tag] = leaders;
      const leader = this.nodes.find((n) => n.tag === tag);
      if (!leader) return this.nodes.every((n) => n.tag === null);  // forming: tags not known yet
      return (await leader.clusterTopology())?.CurrentState === "Leader";
    });
  }

  // A running node that reports itself leader, or null.
  async leader() {
    for (const node of this.nodes) {
      if ((await node.clusterTopology())?.CurrentState === "Leader") return node;
    }
    return null;
  }

  // The tail of every node's stderr, for failure messages.
  logs() {
    return this.nodes.map((n) => `----- ${n.tag ?? "?"} ${n.url}\n${n.stderr.slice(-3000)}`).join("\n");
  }

  async dispose() {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await rm(this.dir, { recursive: true, force: true });
  }
}
