/**
 * An edge fed across an air gap, with real processes as an operator runs
 * them (docs/air-gapped.md): `chamicore serve` on Postgres with NATS holds
 * a site with a kernel it stores and an initrd held elsewhere; `chamicore
 * export` writes the bundle and the bundle key; `chamicore edge import`
 * feeds a fresh data directory; `chamicore edge` started with no control
 * URL serves every node's boot script, cloud-init documents and the kernel
 * byte for byte as the control plane does. Then changes cross as a delta
 * imported beside the running edge, an older bundle is refused, and the
 * edge, given the control plane at last, follows it live from where the
 * bundles left it, without a snapshot. (Refusals of damaged bundles and a
 * killed import: tests/integration/bundles.test.ts.)
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { buildBundle } from "../../functions/bundles/build";
import { detachedSignature } from "../../functions/bundles/sign";
import type { FeedStore, Snapshot } from "../../functions/events/store";
import { cliHome } from "../support/cli";
import {
  type ControlPlane,
  cleanupAfterAll,
  createEdgeAccount,
  edgeDataDir,
  edgeEnv,
  edgeReady,
  PUBLIC,
  startControlPlane,
  startEdge,
  uploadArtifact,
} from "../support/edge-site";
import { eventually, uniqueStream } from "../support/nats";
import { freePort, type Proc, run } from "../support/process";
import { envelope } from "../support/replica-history";

const NODES = 200;
const nodeId = (i: number) => `x7000c0s${i % 64}b${Math.floor(i / 64)}n0`;
const mac = (i: number) =>
  `02:00:00:70:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`;
const kernel = randomBytes(300_000);
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

const metric = async (base: string, name: string) => {
  const line = (await (await fetch(`${base}/metrics`)).text())
    .split("\n")
    .find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
};

/** A problem's request id differs per request, whoever answers it. */
const text = async (r: Response) =>
  `${r.status} ${(await r.text()).replace(/"requestId":"[^"]*"/, '"requestId":"…"')}`;

/** Every node's boot script and NoCloud documents, as `base` answers them. */
async function answers(base: string, nodes: { id: string; mac: string }[]) {
  const out: Record<string, string> = {};
  for (const n of nodes) {
    const script = await fetch(`${base}/boot/v1/bootscript?mac=${n.mac}`);
    out[`${n.id} script`] = await text(script);
    for (const doc of ["meta-data", "user-data", "vendor-data"]) {
      const r = await fetch(`${base}/cloud-init/${n.id}/${doc}`);
      out[`${n.id} ${doc}`] = await text(r);
    }
  }
  return out;
}

describe.sequential("an edge fed across an air gap", () => {
  const cleanup = cleanupAfterAll();
  let cp: ControlPlane;
  const cli = cliHome();
  cleanup.push(() => cli.cleanup());
  const work = mkdtempSync(join(tmpdir(), "chamicore-airgap-"));
  cleanup.push(() => rmSync(work, { recursive: true, force: true }));
  let dataDir: string;
  let keyFile: string;
  let edge: Proc & { url: string };
  let nodes: { id: string; mac: string }[] = [];
  const chamicore = (args: string[]) =>
    cli.run(args, {
      env: { CHAMICORE_ENDPOINT: cp.control.url, CHAMICORE_TOKEN: cp.token },
      timeoutMs: 120_000,
    });
  const edgeImport = async (file: string, extra: string[] = []) => {
    const p = run(["edge", "import", file, ...extra], {
      CHAMICORE_EDGE_DATA_DIR: dataDir,
      CHAMICORE_EDGE_TRUSTED_KEYS: keyFile,
    });
    const { code } = await p.exited;
    return { code, output: p.output() };
  };
  const edgeStatus = async () =>
    (await (await fetch(`${edge.url}/status`)).json()) as {
      mode: string;
      position: number;
      feed: { by: string | null; source: string | null };
    };
  /** The first answer the edge gives differently from the control plane ("" when none does). */
  const difference = async (list: { id: string; mac: string }[]) => {
    const [mine, theirs] = [await answers(edge.url, list), await answers(cp.control.url, list)];
    const key = Object.keys(theirs).find((k) => mine[k] !== theirs[k]);
    return key === undefined
      ? ""
      : `${key}: edge ${JSON.stringify(mine[key])}, control plane ${JSON.stringify(theirs[key])}`;
  };
  const bundleEdge = async () =>
    startEdge(cleanup, {
      CHAMICORE_EDGE_DATA_DIR: dataDir,
      CHAMICORE_EDGE_PUBLIC_URL: PUBLIC,
      CHAMICORE_EDGE_TRUSTED_KEYS: keyFile,
      CHAMICORE_EDGE_NAME: "dark-rack",
    });

  beforeAll(async () => {
    cp = await startControlPlane(cleanup, { database: "airgap", ...uniqueStream("airgap") });
    const api = cp.api;
    await uploadArtifact(cp, "vmlinuz-dark", "kernel", kernel);
    // Held elsewhere: named in the scripts by its URL, and not carried.
    const initrd = randomBytes(1000);
    expect(
      (
        await api("POST", "/boot/v1/artifacts", {
          name: "initrd-dark.img",
          sha256: sha(initrd),
          size: initrd.length,
          kind: "initrd",
          url: "http://images.example/initrd-dark.img",
        })
      ).status,
    ).toBe(201);
    nodes = Array.from({ length: NODES }, (_, i) => ({ id: nodeId(i), mac: mac(i) }));
    const components = nodes.map((n, i) => ({
      id: n.id,
      type: "Node",
      role: "Compute",
      state: "Ready",
      interfaces: [{ macAddress: n.mac, ipAddresses: [{ ipAddress: `10.70.${i >> 8}.${(i & 255) + 1}` }] }],
    }));
    const imported = await api("POST", "/hsm/v2/import", { components });
    expect(imported.status, imported.text).toBe(201);
    const bp = await api("POST", "/boot/v1/bootparams", {
      role: "Compute",
      kernel: { artifact: "vmlinuz-dark" },
      initrd: { artifact: "initrd-dark.img" },
      cmdline: "console=ttyS0",
    });
    expect(bp.status, bp.text).toBe(201);
    expect(
      (
        await api("POST", "/cloud-init/payloads", {
          role: "Compute",
          userData: "#cloud-config\npackages: [munge]\n",
        })
      ).status,
    ).toBe(201);
    dataDir = edgeDataDir(cleanup, "airgap");
    keyFile = join(work, "bundle-key.json");
  }, 180_000);

  it("exports a signed bundle, feeds an edge with no uplink, which serves every node as the control plane does", async () => {
    const file = join(work, "site.tar.gz");
    const exported = await chamicore(["export", file]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(
      /wrote .*site\.tar\.gz: a snapshot of control plane [0-9a-f-]{36} at position \d+/,
    );
    const key = await chamicore(["export", "--public-key", keyFile]);
    expect(key.code, key.stderr).toBe(0);

    // Neither a control plane nor a fed replica: the edge says how to feed it.
    const empty = run(["edge"], {
      CHAMICORE_EDGE_DATA_DIR: join(work, "empty"),
      CHAMICORE_EDGE_LISTEN: `127.0.0.1:${await freePort()}`,
    });
    expect((await empty.exited).code).toBe(1);
    expect(empty.output()).toMatch(
      /nothing to serve: CHAMICORE_CONTROL_URL is not set.*chamicore edge import/,
    );

    const imported = await edgeImport(file);
    expect(imported.code, imported.output).toBe(0);
    expect(imported.output).toMatch(
      new RegExp(
        `imported .*: a snapshot of control plane .*${NODES} components.*1 artifact\\(s\\) cached, 1 not in the bundle`,
      ),
    );

    edge = await bundleEdge();
    await edgeReady(edge);
    const status = await edgeStatus();
    expect(status).toMatchObject({ mode: "bundle", feed: { by: "bundle:site.tar.gz" } });
    const shown = run(["edge", "status", "--url", edge.url, "-o", "json"], {});
    expect((await shown.exited).code).toBe(0);
    expect(JSON.parse(shown.output())).toMatchObject({
      mode: "bundle",
      feed: { by: "bundle:site.tar.gz", source: status.feed.source },
    });
    expect(await answers(edge.url, nodes)).toEqual(await answers(cp.control.url, nodes));
    // The kernel the bundle carried, from the edge's own disk (verified again at start, then served).
    await eventually(
      "the kernel served by the edge",
      async () => {
        const r = await fetch(`${edge.url}/boot/v1/artifacts/${sha(kernel)}/vmlinuz-dark`);
        return r.status === 200 ? Buffer.from(await r.arrayBuffer()) : undefined;
      },
      (b) => b?.equals(kernel) === true,
      10_000,
    );
  });

  it("imports the changes after the edge's position beside the running edge, which serves them within a second", async () => {
    const position: number = (await edgeStatus()).position;
    const api = cp.api;
    // 50 changes: 20 nodes added, 10 deleted, 10 given boot parameters of their own, 10 powered off.
    const added = Array.from({ length: 20 }, (_, j) => ({ id: nodeId(NODES + j), mac: mac(NODES + j) }));
    for (const [j, n] of added.entries())
      expect(
        (
          await api("POST", "/hsm/v2/State/Components", {
            id: n.id,
            role: "Compute",
            interfaces: [{ macAddress: n.mac, ipAddresses: [{ ipAddress: `10.71.0.${j + 1}` }] }],
          })
        ).status,
      ).toBe(201);
    for (const n of nodes.slice(0, 10))
      expect((await api("DELETE", `/hsm/v2/State/Components/${n.id}`)).status).toBe(204);
    for (const n of nodes.slice(10, 20))
      expect(
        (
          await api("POST", "/boot/v1/bootparams", {
            componentId: n.id,
            kernel: { artifact: "vmlinuz-dark" },
            cmdline: `node=${n.id}`,
          })
        ).status,
      ).toBe(201);
    for (const n of nodes.slice(20, 30))
      expect((await api("PATCH", `/hsm/v2/State/Components/${n.id}`, { state: "Off" })).status).toBe(200);
    nodes = [...nodes, ...added];

    const file = join(work, "delta.tar.gz");
    const exported = await chamicore(["export", file, "--since", String(position), "--without-artifacts"]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(
      new RegExp(`a changes of control plane .* \\(the changes after ${position}\\)`),
    );
    const imported = await edgeImport(file);
    expect(imported.code, imported.output).toBe(0);
    expect(imported.output).toMatch(
      new RegExp(`a changes of control plane .*\\d+ events.*from position ${position} to \\d+`),
    );
    // The edge reloads what it serves in one step once it sees the import's commit: one node the delta
    // added shows when, then every node is compared once.
    await eventually(
      "the running edge to serve the delta",
      () => difference(added.slice(0, 1)),
      (d) => d === "",
      10_000,
    );
    expect(await difference(nodes)).toBe("");

    // The first bundle again: older than the replica now, refused, nothing changed.
    const before = (await edgeStatus()).position;
    const old = await edgeImport(join(work, "site.tar.gz"));
    expect(old.code).toBe(1);
    expect(old.output).toMatch(
      /refused .*site\.tar\.gz: this bundle is at position \d+, older than the replica's \d+.*The replica is unchanged/,
    );
    expect((await edgeStatus()).position).toBe(before);
  });

  it("follows the control plane live from where the bundles left it once it can reach it, without a snapshot", async () => {
    const position: number = (await edgeStatus()).position;
    edge.child.kill("SIGTERM");
    expect((await edge.exited).code).toBe(0);
    const creds = await createEdgeAccount(cp.api, "edge-dark-rack");
    edge = await startEdge(
      cleanup,
      edgeEnv(cp, creds, dataDir, { CHAMICORE_EDGE_NAME: "dark-rack", CHAMICORE_EDGE_TRUSTED_KEYS: keyFile }),
    );
    await eventually(
      "the edge on the stream",
      async () => (await edgeStatus()).mode,
      (m) => m === "stream",
      30_000,
    );
    const late = { id: nodeId(NODES + 40), mac: mac(NODES + 40) };
    expect(
      (
        await cp.api("POST", "/hsm/v2/State/Components", {
          id: late.id,
          role: "Compute",
          interfaces: [{ macAddress: late.mac, ipAddresses: [{ ipAddress: "10.71.1.1" }] }],
        })
      ).status,
    ).toBe(201);
    nodes = [...nodes, late];
    await eventually(
      "the live change at the edge",
      () => difference([late]),
      (d) => d === "",
      10_000,
    );
    expect(await answers(edge.url, nodes)).toEqual(await answers(cp.control.url, nodes));
    expect(await metric(edge.url, "chamicore_edge_snapshots_total")).toBe(0);
    const status = await edgeStatus();
    expect(status.position).toBeGreaterThan(position);
    expect(status.feed).toMatchObject({ by: "live" });
  });

  it("rebuilds from this control plane's snapshot, and says why, an edge fed by another's bundles", async () => {
    // A bundle of another control plane (its own id and key), fed to a fresh edge that trusts that key.
    const other = await generateKeyPair("ES256", { extractable: true });
    const otherKeys = join(work, "other-key.json");
    writeFileSync(
      otherKeys,
      JSON.stringify({ keys: [{ ...(await exportJWK(other.publicKey)), kid: "other-1", alg: "ES256" }] }),
    );
    const stranger: Snapshot = {
      position: 5,
      components: [
        envelope("Component", "x8000c0s0b0n0", {
          id: "x8000c0s0b0n0",
          type: "Node",
          role: "Compute",
          enabled: true,
        }),
      ],
      interfaces: [],
      groups: [],
      partitions: [],
      bootparams: [],
      payloads: [],
      revocations: [],
    };
    const feed: FeedStore = {
      source: async () => "00000000-0000-4000-8000-00000000beef",
      snapshot: async () => stranger,
      changes: async () => ({ events: [], head: 5, tail: 1 }),
    };
    const { body } = await buildBundle(
      { feed, sign: (b) => detachedSignature(b, { kid: "other-1", alg: "ES256", key: other.privateKey }) },
      {},
    );
    const file = join(work, "other.tar.gz");
    writeFileSync(file, Buffer.from(await new Response(body).arrayBuffer()));
    const dir = edgeDataDir(cleanup, "airgap-other");
    const imported = run(["edge", "import", file], {
      CHAMICORE_EDGE_DATA_DIR: dir,
      CHAMICORE_EDGE_TRUSTED_KEYS: otherKeys,
    });
    expect((await imported.exited).code, imported.output()).toBe(0);

    const creds = await createEdgeAccount(cp.api, "edge-other-rack");
    const e = await startEdge(cleanup, edgeEnv(cp, creds, dir, { CHAMICORE_EDGE_NAME: "other-rack" }));
    await edgeReady(e);
    await eventually(
      "the edge to rebuild from this control plane",
      async () => (await (await fetch(`${e.url}/status`)).json()) as { feed: { source: string; by: string } },
      (s) => s.feed.source !== "00000000-0000-4000-8000-00000000beef" && s.feed.by === "live",
      30_000,
    );
    expect(e.output()).toMatch(
      /the control plane is [0-9a-f-]{36}, the replica came from 00000000-0000-4000-8000-00000000beef: rebuilding it from this one/,
    );
    expect(await metric(e.url, "chamicore_edge_snapshots_total")).toBe(1);
    // Its scripts name the kernel on the edge once it fetched it from the control plane (until then, there).
    await eventually(
      "the kernel in the edge's cache",
      async () =>
        ((await (await fetch(`${e.url}/status`)).json()) as { artifacts: { wantedCached: number } })
          .artifacts,
      (a) => a.wantedCached === 1,
      20_000,
    );
    const some = nodes.slice(-5);
    const [mine, theirs] = [await answers(e.url, some), await answers(cp.control.url, some)];
    expect(mine).toEqual(theirs);
    expect(await answers(e.url, [{ id: "x8000c0s0b0n0", mac: "02:00:00:80:00:01" }])).toEqual(
      await answers(cp.control.url, [{ id: "x8000c0s0b0n0", mac: "02:00:00:80:00:01" }]),
    );
  });
});
