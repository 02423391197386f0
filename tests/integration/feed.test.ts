/**
 * The change feed edge nodes replicate from: a snapshot plus the events after
 * its position reproduce the control plane's state exactly, whatever the
 * sequence of changes (random sequences, seeded so a failure can be replayed);
 * pages follow each other; pruned history answers 410 so a replica
 * re-snapshots instead of silently diverging.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../control/db/node";
import { outbox } from "../../control/db/schema";
import { PgOutbox } from "../../control/stores/outbox";
import { SNAPSHOT_RESOURCES } from "../../functions/events/store";
import { type Call, nodePgliteTarget, nodePostgresTarget, type Target } from "../support/targets";

// biome-ignore lint/suspicious/noExplicitAny: resources are compared as data.
type Doc = any;
const COLLECTIONS = SNAPSHOT_RESOURCES;

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: T[]) => xs[Math.floor(next() * xs.length)]!,
  };
}

const mac = (n: number) =>
  `02:00:00:${[(n >> 16) & 255, (n >> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;

/** One random change through the API (some are refused; refusals must emit nothing). */
async function randomChange(call: Call, r: ReturnType<typeof rng>, step: number) {
  const id = `x${r.int(3)}c0s${r.int(4)}b0n${r.int(3)}`;
  const group = `g${r.int(3)}`;
  const part = `p${r.int(2)}`;
  switch (r.int(16)) {
    case 0:
    case 1:
      return call("POST", "/hsm/v2/State/Components", {
        body: { id, nid: r.int(1000), role: r.pick(["Compute", "Service", null]) },
      });
    case 2:
      return call("PATCH", `/hsm/v2/State/Components/${id}`, {
        body: { state: r.pick(["Ready", "Off", "On"]), nid: r.int(1000) },
      });
    case 3:
      return call("DELETE", `/hsm/v2/State/Components/${id}`);
    case 4:
      return call("POST", "/hsm/v2/Inventory/EthernetInterfaces", {
        body: {
          componentId: id,
          macAddress: mac(step),
          ipAddresses: [{ ipAddress: `10.0.${r.int(4)}.${step % 250}`, network: "mgmt" }],
        },
      });
    case 5: {
      const list = await call("GET", "/hsm/v2/Inventory/EthernetInterfaces?fields=id");
      const items = list.json.items as Doc[];
      if (items.length === 0) return { ...list, status: 0 }; // nothing changed
      return call("DELETE", `/hsm/v2/Inventory/EthernetInterfaces/${r.pick(items).spec.id}`);
    }
    case 6:
      return call("POST", "/hsm/v2/groups", { body: { name: group, tags: [r.pick(["a", "b"])] } });
    case 7:
      return call("POST", `/hsm/v2/groups/${group}/members`, { body: { ids: [id] } });
    case 8:
      return call(
        "DELETE",
        r.next() < 0.5 ? `/hsm/v2/groups/${group}/members/${id}` : `/hsm/v2/groups/${group}`,
      );
    case 9:
      return call("POST", "/hsm/v2/partitions", { body: { name: part, members: [id] } });
    case 10:
      return call(
        "DELETE",
        r.next() < 0.5 ? `/hsm/v2/partitions/${part}/members/${id}` : `/hsm/v2/partitions/${part}`,
      );
    case 11:
      return call("POST", "/auth/v1/token/revoke", { body: { jti: `jti-${step}`, reason: "test" } });
    case 12:
      return call("POST", "/boot/v1/bootparams", {
        body:
          r.next() < 0.5
            ? { componentId: id, kernelUri: `http://boot/vmlinuz-${step}`, cmdline: "console=ttyS0" }
            : { role: r.pick(["Compute", "Service"]), kernelUri: `http://boot/vmlinuz-${step}` },
      });
    case 13: {
      const list = await call("GET", "/boot/v1/bootparams?fields=id");
      const items = list.json.items as Doc[];
      if (items.length === 0) return { ...list, status: 0 };
      const target = r.pick(items).metadata.id;
      return r.next() < 0.5
        ? call("DELETE", `/boot/v1/bootparams/${target}`)
        : call("PATCH", `/boot/v1/bootparams/${target}`, { body: { cmdline: `quiet step=${step}` } });
    }
    case 14:
      return call("POST", "/cloud-init/payloads", {
        body:
          r.next() < 0.5
            ? { componentId: id, userData: `#cloud-config\nhostname: n${step}\n` }
            : { group, metaData: { site: r.pick(["a", "b"]) } },
      });
    default: {
      const list = await call("GET", "/cloud-init/payloads?fields=id");
      const items = list.json.items as Doc[];
      if (items.length === 0) return { ...list, status: 0 };
      const target = r.pick(items).metadata.id;
      return r.next() < 0.5
        ? call("DELETE", `/cloud-init/payloads/${target}`)
        : call("PATCH", `/cloud-init/payloads/${target}`, {
            body: { vendorData: `#cloud-config\nstep: ${step}\n` },
          });
    }
  }
}

const keyed = (s: Doc) =>
  Object.fromEntries(
    COLLECTIONS.map((k) => [k, Object.fromEntries((s[k] as Doc[]).map((d) => [d.metadata.id, d]))]),
  ) as Record<string, Record<string, Doc>>;

/** What a replica does: apply each event by its resource and action. */
function apply(state: Record<string, Record<string, Doc>>, events: Doc[]) {
  for (const e of events) {
    const [, , resource, action] = e.type.split(".");
    const table = state[resource];
    if (!table) throw new Error(`event of unknown resource ${e.type}`);
    if (action === "deleted") delete table[e.subject];
    else table[e.subject] = e.data;
  }
  return state;
}

async function allChanges(call: Call, after: number, limit: number) {
  const events: Doc[] = [];
  for (;;) {
    const page = await call("GET", `/events/v1/changes?after=${after}&limit=${limit}`);
    expect(page.status, page.text).toBe(200);
    events.push(...page.json.items);
    if (page.json.metadata.next === page.json.metadata.head || page.json.items.length === 0) return events;
    after = page.json.metadata.next;
  }
}

describe("snapshot + changes", () => {
  let t: Target;
  beforeAll(async () => {
    t = await nodePgliteTarget();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it.each([1, 2, 3])(
    "reproduce the state exactly after a random sequence of changes (seed %i)",
    async (seed) => {
      const r = rng(seed);
      for (let i = 0; i < 40; i++) await randomChange(t.call, r, seed * 1000 + i);
      const before = await t.call("GET", "/events/v1/snapshot");
      expect(before.status, before.text).toBe(200);
      let applied = 0;
      for (let i = 40; i < 160; i++) {
        const a = await randomChange(t.call, r, seed * 1000 + i);
        if (a.status >= 200 && a.status < 300) applied++;
      }
      expect(applied).toBeGreaterThan(30);
      const kinds = new Set((await allChanges(t.call, 0, 1000)).map((e: Doc) => e.type.split(".")[2]));
      // Every replicated collection was exercised, so the comparison below covers them all.
      for (const k of COLLECTIONS) expect(kinds, k).toContain(k);
      const after = await t.call("GET", "/events/v1/snapshot");
      const events = await allChanges(t.call, before.json.position, 7);
      expect(events.length).toBeGreaterThanOrEqual(applied);
      expect(events.map((e: Doc) => e.position)).toEqual(
        [...events.map((e: Doc) => e.position)].sort((a: number, b: number) => a - b),
      );
      expect(events.at(-1).position).toBe(after.json.position);
      expect(apply(keyed(before.json), events)).toEqual(keyed(after.json));
      // And from nothing at all: position 0 plus every event is the whole state.
      const empty = Object.fromEntries(COLLECTIONS.map((k) => [k, []]));
      if (seed === 1)
        expect(apply(keyed(empty), await allChanges(t.call, 0, 500))).toEqual(keyed(after.json));
    },
  );

  it("needs read:feed", async () => {
    const viewer = await t.call("POST", "/auth/v1/service-accounts", { body: { roles: ["viewer"] } });
    const form = new URLSearchParams({ grant_type: "client_credentials" }).toString();
    const tok = await t.call("POST", "/auth/v1/token", {
      body: form,
      token: null,
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Authorization: `Basic ${btoa(`${viewer.json.spec.id}:${viewer.json.spec.clientSecret}`)}`,
      },
    });
    expect((await t.call("GET", "/events/v1/snapshot", { token: tok.json.access_token })).status).toBe(403);
    const edge = await t.call("POST", "/auth/v1/service-accounts", { body: { roles: ["edge"] } });
    const edgeTok = await t.call("POST", "/auth/v1/token", {
      body: form,
      token: null,
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Authorization: `Basic ${btoa(`${edge.json.spec.id}:${edge.json.spec.clientSecret}`)}`,
      },
    });
    // The edge role: the feed, revocations, the agent endpoints of its site's power and discovery
    // work, reporting its nodes' boot progress and its own status, and the artifacts staged for its site.
    expect(edgeTok.json.scope.split(" ").sort()).toEqual([
      "admin:discovery-agent",
      "admin:power-agent",
      "read:artifacts",
      "read:feed",
      "read:revocations",
      "write:boot-progress",
      "write:edges",
    ]);
    expect(
      (await t.call("GET", "/events/v1/changes?after=0", { token: edgeTok.json.access_token })).status,
    ).toBe(200);
    // The agent endpoints, and nothing else of power: no endpoint changes, no transitions.
    const token = edgeTok.json.access_token;
    const progress = { updates: [], transitionIds: [] };
    expect((await t.call("POST", "/power/v1/agent/progress", { body: progress, token })).status).toBe(200);
    expect(
      (
        await t.call("POST", "/power/v1/bmcs", {
          body: { id: "x0c0s0b0", address: "10.0.0.1", credentialId: "c" },
          token,
        })
      ).status,
    ).toBe(403);
    expect(
      (await t.call("POST", "/power/v1/actions/on", { body: { nodes: ["x0c0s0b0n0"] }, token })).status,
    ).toBe(403);
    expect((await t.call("GET", "/discovery/v1/targets", { token })).status).toBe(403);
  });
});

describe("pruned history", () => {
  it("answers 410 for positions whose events are gone, and serves from what is kept", async () => {
    const t = await nodePostgresTarget();
    try {
      for (let i = 0; i < 4; i++)
        await t.call("POST", "/hsm/v2/State/Components", { body: { id: `x9c0s0b0n${i}` } });
      const db = await openDatabase({ databaseUrl: t.databaseUrl!, dataDir: "/nonexistent" });
      try {
        // As if the relay had sent them a long time ago.
        await db.db.update(outbox).set({ sentAt: new Date(0), time: new Date(0) });
        expect(await new PgOutbox(db.db).prune(new Date())).toBe(3);
      } finally {
        await db.close();
      }
      const gone = await t.call("GET", "/events/v1/changes?after=0");
      expect(gone.status).toBe(410);
      expect(gone.json.detail).toMatch(/take a new snapshot/);
      const snap = await t.call("GET", "/events/v1/snapshot");
      const kept = await t.call("GET", `/events/v1/changes?after=${snap.json.position - 1}`);
      expect(kept.status).toBe(200);
      expect(kept.json.items).toHaveLength(1);
      const caughtUp = await t.call("GET", `/events/v1/changes?after=${snap.json.position}`);
      expect(caughtUp.json).toMatchObject({
        items: [],
        metadata: { next: snap.json.position, head: snap.json.position },
      });
    } finally {
      await t.stop();
    }
  });
});
