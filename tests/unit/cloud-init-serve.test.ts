/**
 * The serving handlers over an in-memory CloudInitReadStore (the port an
 * edge node will implement over SQLite): caller identification, trusted
 * proxies, bindToAddress, unknown and ambiguous nodes, and the route
 * ordering trap between `/cloud-init/payloads/…` and `/cloud-init/{id}/…`.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { beforeEach, describe, expect, it } from "vitest";
import { authSettingsOf, WorkerAuthEnvSchema } from "../../control/config";
import { Keyring } from "../../functions/auth";
import { registerCloudInit } from "../../functions/cloud-init";
import type { Payload } from "../../functions/cloud-init/schemas";
import type { CloudInitStore, NodeFacts } from "../../functions/cloud-init/store";
import { parseEnv } from "../../functions/config";
import type { AppDeps, AppEnv } from "../../functions/env";
import type { Stores } from "../../functions/stores";
import { generateMasterKey } from "../../shared/auth/crypto";
import { createBaseApp } from "../../shared/http/app";
import { canonicalIp } from "../../shared/http/client-address";
import { silentLogger } from "../../shared/log";
import { httpMetrics, Registry } from "../../shared/metrics";

/** The read port in memory, as simple as a test fake should be; CRUD only as far as the routes below need. */
class MemoryCloudInit implements Partial<CloudInitStore> {
  nodes: NodeFacts[] = [];
  payloads: Payload[] = [];
  async nodeById(id: string) {
    return this.nodes.find((n) => n.id === id);
  }
  async nodeByMac(mac: string) {
    return this.nodes.find((n) => n.interfaces.some((i) => i.macAddress === mac));
  }
  async componentsWithAddress(address: string) {
    return this.nodes
      .filter((n) =>
        n.interfaces.some((i) => i.ipAddresses.some((a) => canonicalIp(a.ipAddress) === address)),
      )
      .map((n) => n.id)
      .sort();
  }
  async payloadsFor(t: { componentId: string; groups: string[]; role: string | null }) {
    return this.payloads.filter(
      (p) =>
        p.componentId === t.componentId ||
        (p.group && t.groups.includes(p.group)) ||
        (p.role && p.role === t.role),
    );
  }
  async listPayloads() {
    return { rows: [], total: 0 };
  }
  async getPayload(id: string) {
    const p = this.payloads.find((x) => x.id === id);
    return p && { id, etag: "e1", createdAt: new Date(0), updatedAt: new Date(0), spec: p };
  }
}

const nodeAt = (id: string, mac: string, ...ips: string[]): NodeFacts => ({
  id,
  nid: null,
  role: "Compute",
  groups: [],
  interfaces: [
    {
      id: mac.replaceAll(":", ""),
      macAddress: mac,
      ipAddresses: ips.map((ipAddress) => ({ ipAddress, network: null })),
    },
  ],
});

const settings = authSettingsOf(parseEnv(WorkerAuthEnvSchema, {}), generateMasterKey());

/** An app serving cloud-init only; the peer address comes from the X-Test-Peer header. */
function appWith(store: MemoryCloudInit, trustedProxies: string[]): OpenAPIHono<AppEnv> {
  const registry = new Registry();
  const app = createBaseApp<AppEnv>({ logger: silentLogger, metrics: httpMetrics(registry) });
  const deps: AppDeps = {
    logger: silentLogger,
    registry,
    runtime: "node",
    stores: async (c, next) => {
      c.set("stores", { cloudInit: store } as unknown as Stores);
      await next();
    },
    serving: {
      publicUrl: undefined,
      unknownMac: "retry",
      trustedProxies,
      peerAddress: (c) => c.req.header("X-Test-Peer"),
    },
    auth: { settings, keyring: new Keyring(settings), bundleKeyring: new Keyring(settings) },
  };
  app.use(async (c, next) => {
    c.set("deps", deps);
    await next();
  });
  app.use("/cloud-init/*", deps.stores);
  registerCloudInit(app);
  return app;
}

let store: MemoryCloudInit;
let app: OpenAPIHono<AppEnv>;
const get = (path: string, headers: Record<string, string> = {}) => app.request(path, { headers });
// biome-ignore lint/suspicious/noExplicitAny: answers are inspected freely.
const json = (res: Response): Promise<any> => res.json();

beforeEach(() => {
  store = new MemoryCloudInit();
  store.nodes = [
    nodeAt("cn001", "aa:bb:cc:00:00:01", "10.1.0.1"),
    nodeAt("cn002", "aa:bb:cc:00:00:02", "10.1.0.2", "fd00::2"),
    { ...nodeAt("payloads", "aa:bb:cc:00:00:03", "10.1.0.3"), role: null },
    { ...nodeAt("user-data", "aa:bb:cc:00:00:04", "10.1.0.4"), role: null },
    nodeAt("twin-a", "aa:bb:cc:00:00:05", "10.1.0.99"),
    nodeAt("twin-b", "aa:bb:cc:00:00:06", "10.1.0.99"),
  ];
  store.payloads = [
    {
      id: "p-role",
      componentId: null,
      group: null,
      role: "Compute",
      userData: "#cloud-config\nrole: compute\n",
      metaData: null,
      vendorData: null,
      bindToAddress: false,
    },
    {
      id: "p-cn002",
      componentId: "cn002",
      group: null,
      role: null,
      userData: "#cloud-config\nsecret: s3cr3t\n",
      metaData: null,
      vendorData: null,
      bindToAddress: true,
    },
    {
      id: "p-payloads",
      componentId: "payloads",
      group: null,
      role: null,
      userData: "#cloud-config\nme: payloads\n",
      metaData: null,
      vendorData: null,
      bindToAddress: false,
    },
    {
      id: "p-user-data",
      componentId: "user-data",
      group: null,
      role: null,
      userData: "#cloud-config\nme: user-data\n",
      metaData: null,
      vendorData: null,
      bindToAddress: false,
    },
  ];
  app = appWith(store, ["192.0.2.0/24"]);
});

describe("serving by component id", () => {
  it("serves the merged documents with their content types, uncached", async () => {
    const res = await get("/cloud-init/cn001/user-data");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/cloud-config; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.text()).toBe("#cloud-config\nrole: compute\n");
    const tag = res.headers.get("etag")!;
    expect(tag).toBeTruthy();
    expect((await get("/cloud-init/cn001/user-data", { "If-None-Match": tag })).status).toBe(304);
    const md = await get("/cloud-init/cn001/meta-data");
    expect(md.headers.get("content-type")).toBe("application/json");
    expect((await json(md))["instance-id"]).toBe("iid-cn001");
    expect(await (await get("/cloud-init/cn001/vendor-data")).text()).toBe("#cloud-config\n{}\n");
  });

  it("refuses a malformed component id with a 422 problem", async () => {
    expect((await get("/cloud-init/-bad-/user-data")).status).toBe(422);
  });

  it("answers an unknown component with a 404 problem", async () => {
    const res = await get("/cloud-init/cn999/user-data");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect((await json(res)).detail).toBe("component 'cn999' does not exist");
  });
});

describe("serving the caller", () => {
  it("finds the node by its source address (IPv4 or IPv6, any spelling)", async () => {
    expect(await (await get("/cloud-init/user-data", { "X-Test-Peer": "10.1.0.1" })).text()).toBe(
      "#cloud-config\nrole: compute\n",
    );
    const md = await json(await get("/cloud-init/meta-data", { "X-Test-Peer": "FD00:0:0::2" }));
    expect(md.chamicore.id).toBe("cn002");
  });

  it("finds the node by ?mac= in any spelling", async () => {
    const md = await json(
      await get("/cloud-init/meta-data?mac=AA-BB-CC-00-00-01", { "X-Test-Peer": "192.168.9.9" }),
    );
    expect(md.chamicore.id).toBe("cn001");
    expect((await get("/cloud-init/meta-data?mac=nonsense")).status).toBe(422);
    expect((await get("/cloud-init/meta-data?mac=aa:bb:cc:00:00:ff")).status).toBe(404);
  });

  it("answers 404 for an address no component holds, or an unknown caller", async () => {
    const res = await get("/cloud-init/user-data", { "X-Test-Peer": "10.9.9.9" });
    expect(res.status).toBe(404);
    expect((await json(res)).detail).toBe("No component has an interface with address 10.9.9.9");
    expect((await get("/cloud-init/user-data")).status).toBe(404);
  });

  it("answers 409 when several components hold the address", async () => {
    const res = await get("/cloud-init/user-data", { "X-Test-Peer": "10.1.0.99" });
    expect(res.status).toBe(409);
    expect((await json(res)).detail).toMatch(/twin-a, twin-b/);
  });

  it("believes X-Forwarded-For from a trusted proxy, taking the right-most untrusted hop", async () => {
    const md = await get("/cloud-init/meta-data", {
      "X-Test-Peer": "192.0.2.10",
      "X-Forwarded-For": "10.1.0.2, 10.1.0.1, 192.0.2.11",
    });
    expect((await json(md)).chamicore.id).toBe("cn001");
  });

  it("ignores X-Forwarded-For from any other peer", async () => {
    const res = await get("/cloud-init/meta-data", {
      "X-Test-Peer": "10.1.0.2",
      "X-Forwarded-For": "10.1.0.1",
    });
    expect((await json(res)).chamicore.id).toBe("cn002");
  });
});

describe("bindToAddress", () => {
  it("serves a bound payload to the node's own address", async () => {
    for (const path of [
      "/cloud-init/cn002/user-data",
      "/cloud-init/user-data",
      "/cloud-init/user-data?mac=aa:bb:cc:00:00:02",
    ]) {
      const res = await get(path, { "X-Test-Peer": "10.1.0.2" });
      expect(res.status, path).toBe(200);
      expect(await res.text(), path).toMatch(/secret: s3cr3t/);
    }
    const viaProxy = await get("/cloud-init/cn002/user-data", {
      "X-Test-Peer": "192.0.2.10",
      "X-Forwarded-For": "fd00::2",
    });
    expect(viaProxy.status).toBe(200);
  });

  it("refuses it (403, nothing leaked) to any other caller, by id or by ?mac=", async () => {
    for (const [path, headers] of [
      ["/cloud-init/cn002/user-data", { "X-Test-Peer": "10.1.0.1" }],
      ["/cloud-init/user-data?mac=aa:bb:cc:00:00:02", { "X-Test-Peer": "10.1.0.1" }],
      ["/cloud-init/cn002/user-data", {}],
      // A spoofed header from an untrusted peer changes nothing.
      ["/cloud-init/cn002/user-data", { "X-Test-Peer": "10.1.0.1", "X-Forwarded-For": "10.1.0.2" }],
    ] as const) {
      const res = await get(path, headers);
      expect(res.status, path).toBe(403);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(await res.text()).not.toMatch(/s3cr3t/);
    }
  });

  it("leaves documents the bound payload does not contribute to open", async () => {
    expect((await get("/cloud-init/cn002/meta-data", { "X-Test-Peer": "10.1.0.1" })).status).toBe(200);
    expect((await get("/cloud-init/cn002/vendor-data", { "X-Test-Peer": "10.1.0.1" })).status).toBe(200);
  });
});

describe("route ordering: /cloud-init/payloads/… versus /cloud-init/{id}/…", () => {
  it("serves component `payloads` its own documents", async () => {
    for (const doc of ["user-data", "vendor-data", "meta-data"]) {
      const res = await get(`/cloud-init/payloads/${doc}`);
      expect(res.status, doc).toBe(200);
      if (doc === "user-data") expect(await res.text()).toBe("#cloud-config\nme: payloads\n");
      if (doc === "meta-data") expect((await json(res)).chamicore.id).toBe("payloads");
    }
  });

  it("serves component `user-data` its own documents, and the caller's path stays the caller's", async () => {
    expect(await (await get("/cloud-init/user-data/user-data")).text()).toBe(
      "#cloud-config\nme: user-data\n",
    );
    expect(await (await get("/cloud-init/user-data", { "X-Test-Peer": "10.1.0.1" })).text()).toBe(
      "#cloud-config\nrole: compute\n",
    );
  });

  it("still reaches the payload collection and payloads by id", async () => {
    const list = await get("/cloud-init/payloads");
    expect(list.status).toBe(200);
    expect((await json(list)).kind).toBe("PayloadList");
    const one = await get("/cloud-init/payloads/p-role");
    expect(one.status).toBe(200);
    expect((await json(one)).spec.id).toBe("p-role");
  });

  it("refuses a payload called like a document", async () => {
    const res = await app.request("/cloud-init/payloads", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ id: "user-data", role: "Compute" }),
    });
    expect(res.status).toBe(422);
    expect((await json(res)).errors[0].field).toBe("id");
  });
});
