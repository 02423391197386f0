/**
 * `GET /events/v1/bundle` and `/events/v1/bundle/keys` on both runtimes
 * (Node on its embedded database, and the Worker in workerd with R2): the
 * bundle a control plane streams is accepted by the edge's importer with
 * the keys it publishes, carries the artifact it stores, and a delta
 * follows; the bundle key is not a token key, rotates on its own, and an
 * edge trusting only the old key refuses what the new one signs.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importBundle } from "../../edge-node/bundles/import";
import { openBetterSqlite } from "../../edge-node/node/sqlite";
import { Replica } from "../../edge-node/replica";
import { nodePgliteTarget, type Target, workerTarget } from "../support/targets";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function suite(name: string, start: () => Promise<Target>) {
  describe.sequential(`air-gap bundles on ${name}`, () => {
    let t: Target;
    const dir = mkdtempSync(join(tmpdir(), "chamicore-bundle-api-"));
    const kernel = randomBytes(50_000);
    let keys = "";

    beforeAll(async () => {
      t = await start();
      expect(
        (
          await t.call("POST", "/boot/v1/artifacts", {
            body: { name: "vmlinuz", sha256: sha(kernel), size: kernel.length, kind: "kernel" },
          })
        ).status,
      ).toBe(201);
      const put = await t.fetch("/boot/v1/artifacts/vmlinuz/content", {
        method: "PUT",
        headers: { Authorization: `Bearer ${t.adminToken}`, "Content-Type": "application/octet-stream" },
        body: kernel,
      });
      expect(put.status, await put.text()).toBe(200);
      const node = await t.call("POST", "/hsm/v2/State/Components", {
        body: { id: "x9000c0s0b0n0", role: "Compute", interfaces: [{ macAddress: "02:00:00:90:00:01" }] },
      });
      expect(node.status, node.text).toBe(201);
      expect(
        (
          await t.call("POST", "/boot/v1/bootparams", {
            body: { role: "Compute", kernel: { artifact: "vmlinuz" } },
          })
        ).status,
      ).toBe(201);
    }, 120_000);
    afterAll(async () => {
      await t?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    const bundle = async (query = "", label = "bundle") => {
      const res = await t.fetch(`/events/v1/bundle${query}`, {
        headers: { Authorization: `Bearer ${t.adminToken}` },
      });
      const file = join(dir, `${label}.tar.gz`);
      const bytes = Buffer.from(await res.arrayBuffer());
      if (res.status === 200) writeFileSync(file, bytes);
      return { res, file, text: res.status === 200 ? "" : bytes.toString() };
    };
    const edgeDir = join(dir, "edge");
    const load = (file: string, trusted = keys) =>
      importBundle({ dataDir: edgeDir, sqlite: openBetterSqlite, file, trustedKeys: trusted });

    it("streams a signed snapshot that the edge's importer takes with the published keys, artifact and all", async () => {
      const pub = await t.call("GET", "/events/v1/bundle/keys");
      expect(pub.status).toBe(200);
      expect(pub.json.keys).toHaveLength(1);
      keys = JSON.stringify(pub.json);
      // Not a token key: the JWKS tokens are checked by does not hold it.
      const jwks = await t.call("GET", "/.well-known/jwks.json");
      expect(jwks.json.keys.map((k: { kid: string }) => k.kid)).not.toContain(pub.json.keys[0].kid);

      const { res, file } = await bundle();
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/gzip");
      expect(res.headers.get("content-disposition")).toMatch(
        /^attachment; filename="chamicore-snapshot-[0-9a-f]{8}-\d+\.tar\.gz"$/,
      );
      const report = await load(file);
      expect(report).toMatchObject({ kind: "snapshot", artifacts: 1, signedBy: pub.json.keys[0].kid });
      expect(report.position).toBe(Number(res.headers.get("x-chamicore-bundle-position")));
      expect(readFileSync(join(edgeDir, "artifacts", sha(kernel))).equals(kernel)).toBe(true);
      const r = Replica.open(edgeDir, { sqlite: openBetterSqlite });
      try {
        expect(r.dump().components.map((c) => c.metadata.id)).toEqual(["x9000c0s0b0n0"]);
        expect(r.status().feed.source).toBe(res.headers.get("x-chamicore-bundle-source"));
      } finally {
        r.close();
      }
    });

    it("streams the changes after a position, refuses one it cannot give, and checks the query", async () => {
      const r = Replica.open(edgeDir, { sqlite: openBetterSqlite });
      const position = r.position();
      r.close();
      expect(
        (await t.call("PATCH", "/hsm/v2/State/Components/x9000c0s0b0n0", { body: { state: "Off" } })).status,
      ).toBe(200);
      const { res, file } = await bundle(`?since=${position}&artifacts=false`, "delta");
      expect(res.status).toBe(200);
      expect(res.headers.get("x-chamicore-bundle-kind")).toBe("changes");
      const report = await load(file);
      expect(report).toMatchObject({ kind: "changes", before: position, artifacts: 0 });
      expect(report.position).toBeGreaterThan(position);

      const ahead = await bundle(`?since=${position + 1000}`, "ahead");
      expect(ahead.res.status).toBe(409);
      expect(ahead.text).toContain("ahead of this control plane");
      expect((await bundle("?since=-1", "bad")).res.status).toBe(422);
      expect((await bundle("?since=1&extra=1", "bad")).res.status).toBe(400);
    });

    it("rotates the bundle key alone; an edge trusting only the old key refuses what the new one signs", async () => {
      const tokenKeys = (await t.call("GET", "/.well-known/jwks.json")).json.keys;
      const rotated = await t.call("POST", "/auth/v1/keys/rotate", { body: { purpose: "bundle" } });
      expect(rotated.status, rotated.text).toBe(200);
      expect((await t.call("GET", "/.well-known/jwks.json")).json.keys).toEqual(tokenKeys);
      const now = await t.call("GET", "/events/v1/bundle/keys");
      expect(now.json.keys).toHaveLength(2);
      const { file } = await bundle("", "rotated");
      await expect(load(file, keys)).rejects.toThrow(/not signed by a trusted key/);
      expect(existsSync(join(edgeDir, "bundle-import"))).toBe(false);
      expect((await load(file, JSON.stringify(now.json))).kind).toBe("snapshot");
    });
  });
}

suite("node+pglite", () => nodePgliteTarget());
suite("workerd+postgres (R2)", () => workerTarget());
