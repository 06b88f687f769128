// A three-node corvusd cluster for the compat tests: each node on its own free
// 127.0.0.1 HTTP port and Rachis port with its own temporary data directory,
// the cluster formed over HTTP (PUT /admin/cluster/node on the first node, as
// an operator would). Nodes can be killed (-9), stopped (SIGTERM) and started
// again on the same ports and directory. Every wait is bounded.
//
// The processes are harness.mjs's CorvusdProcess (the corvusd binary comes
// from $CORVUSD, set by run.sh).

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CorvusdProcess, freePort, request, sleep } from "./harness.mjs";

export const CLUSTER_WAIT_MS = 30_000;
export { sleep };

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

// Plain HTTP to one node: { status, headers, json, text }; status 0 when it
// does not answer.
export async function http(url, method, path, body) {
  try {
    return await request(url, method, path,
      { body: body === undefined ? undefined : JSON.stringify(body), timeoutMs: 15_000 });
  } catch (e) {
    return { status: 0, headers: new Headers(), text: String(e), json: null };
  }
}

export class ClusterNode extends CorvusdProcess {
  constructor(dataDir, httpPort, clusterPort) {
    super();
    this.dataDir = dataDir;
    this.httpPort = httpPort;
    this.clusterPort = clusterPort;
    this.url = `http://127.0.0.1:${httpPort}`;
    this.tag = null;  // known once the cluster is formed
  }

  // On the same ports and directory every time.
  async start() {
    await this.spawnAndWait(this.url, [
      "--server-url", this.url, "--data-dir", this.dataDir,
      "--cluster-port", String(this.clusterPort),
      "--cluster-tick-ms", "50", "--cluster-election-ticks", "20", "--threads", "2",
    ]);
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
      if (!promoted) throw new Error(`${this.nodes[i].url} was not promoted; every node's log:\n${this.logs()}`);
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
