/**
 * The edge's Kea sync against Debian's real kea-dhcp4 and kea-ctrl-agent
 * (2.2, the config-get/test/set/write strategy: no host_cmds there), fed by
 * a real control plane through the edge's replica. What an operator sees:
 * reservations follow the inventory (added, changed, moved between subnets,
 * deleted) and reach Kea's file; a hand-written reservation survives
 * everything, including full reconciles; what Kea refuses or cannot place
 * is reported on /status and /metrics while everything else goes in and Kea
 * keeps answering; a burst of changes is a few writes; drift behind the
 * edge's back is repaired; a dead Kea does not take the edge down.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningEdge, startEdge } from "../../edge-node/node/serve";
import { silentLogger } from "../../shared/log";
import { type RunningKea, startKea } from "../support/kea";
import { eventually } from "../support/nats";
import { nodePgliteTarget, type Target } from "../support/targets";

const C = "/hsm/v2/State/Components";
const MANUAL = {
  "hw-address": "0e:00:00:00:00:01",
  "ip-address": "10.213.1.250",
  hostname: "bmc-switch",
  "user-context": { owner: "netops" },
};

let control: Target;
let kea: RunningKea;
let edge: RunningEdge;
const cleanup: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  kea = await startKea({
    dhcp4: {
      subnet4: [
        {
          id: 1,
          subnet: "10.213.1.0/24",
          pools: [{ pool: "10.213.1.100 - 10.213.1.199" }],
          reservations: [MANUAL],
        },
        { id: 2, subnet: "10.213.2.0/24" },
      ],
    },
  });
  cleanup.push(() => kea.stop());
  control = await nodePgliteTarget();
  cleanup.push(() => control.stop());
  const sa = await control.call("POST", "/auth/v1/service-accounts", {
    body: { id: "edge-kea", roles: ["edge"] },
  });
  const dir = mkdtempSync(join(tmpdir(), "chamicore-edge-kea-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  edge = await startEdge(
    {
      CHAMICORE_CONTROL_URL: control.url!,
      CHAMICORE_EDGE_CLIENT_ID: "edge-kea",
      CHAMICORE_EDGE_CLIENT_SECRET: sa.json.spec.clientSecret,
      CHAMICORE_EDGE_DATA_DIR: dir,
      CHAMICORE_EDGE_LISTEN: "127.0.0.1:0",
      CHAMICORE_EDGE_POLL_SECONDS: "0.2",
      KEA_CONTROL_URL: kea.url,
      CHAMICORE_KEA_RECONCILE_SECONDS: "5",
    },
    { logger: silentLogger },
  );
  cleanup.push(() => edge.close());
});

afterAll(async () => {
  for (const f of cleanup.reverse()) await Promise.resolve(f()).catch(() => {});
});

interface Held {
  subnet: number;
  "hw-address": string;
  "ip-address": string;
  hostname: string;
  "user-context"?: Record<string, unknown>;
}

/** Every reservation in Kea's running configuration, with its subnet. */
async function inKea(): Promise<Held[]> {
  const a = await kea.command("config-get");
  expect(a.result, a.text).toBe(0);
  return (a.arguments.Dhcp4.subnet4 as { id: number; reservations?: Held[] }[]).flatMap((s) =>
    (s.reservations ?? []).map((r) => ({ ...r, subnet: s.id })),
  );
}

const byMac = async (mac: string) => (await inKea()).filter((r) => r["hw-address"] === mac);

const edgeStatus = async () =>
  // biome-ignore lint/suspicious/noExplicitAny: the status document is inspected freely.
  (await (await fetch(`${edge.url}/status`)).json()) as { kea: any };

const metric = async (line: string) =>
  Number(
    (await (await fetch(`${edge.url}/metrics`)).text())
      .split("\n")
      .find((l) => l.startsWith(`${line} `))
      ?.split(" ")
      .at(-1) ?? Number.NaN,
  );

const node = (id: string, mac: string, ip: string) => ({
  id,
  type: "Node",
  role: "Compute",
  interfaces: [{ macAddress: mac, ipAddresses: [{ ipAddress: ip }] }],
});

async function create(id: string, mac: string, ip: string) {
  const res = await control.call("POST", C, { body: node(id, mac, ip) });
  expect(res.status, res.text).toBe(201);
}

const manualIntact = async () =>
  expect((await byMac(MANUAL["hw-address"])).map(({ subnet, ...r }) => ({ subnet, ...pick(r) }))).toEqual([
    { subnet: 1, ...MANUAL },
  ]);
const pick = (r: Omit<Held, "subnet">) => ({
  "hw-address": r["hw-address"],
  "ip-address": r["ip-address"],
  hostname: r.hostname,
  "user-context": r["user-context"],
});

describe("Kea reservations follow the inventory", () => {
  it("chooses the config strategy on Debian's Kea and starts in step", async () => {
    const s = await eventually("first reconcile", edgeStatus, (s) => s.kea?.state === "in-step");
    expect(s.kea).toMatchObject({ strategy: "config", reservations: 0, problems: { total: 0 } });
    await manualIntact();
  });

  it("adds a node's address in the subnet that contains it, and writes Kea's file", async () => {
    await create("x1000c0s0b0n0", "02:00:00:00:00:01", "10.213.1.10");
    const [r] = await eventually(
      "reservation in Kea",
      () => byMac("02:00:00:00:00:01"),
      (l) => l.length === 1,
    );
    expect(r).toMatchObject({
      subnet: 1,
      "ip-address": "10.213.1.10",
      hostname: "x1000c0s0b0n0",
      "user-context": { chamicore: { component: "x1000c0s0b0n0", interface: "020000000001" } },
    });
    // config-write: a restarted Kea comes back with it.
    await eventually(
      "config-write",
      // Kea rewrites the file in place: a read mid-write is not JSON yet.
      async () => {
        try {
          return JSON.stringify(
            JSON.parse(readFileSync(kea.configFile, "utf8")).Dhcp4.subnet4[0].reservations,
          );
        } catch {
          return "";
        }
      },
      (onDisk) => onDisk.includes("10.213.1.10"),
    );
    await manualIntact();
  });

  it("changes the address, moves it between subnets, and removes it with the node", async () => {
    const patch = (ip: string) =>
      control.call("PATCH", "/hsm/v2/Inventory/EthernetInterfaces/020000000001", {
        body: { ipAddresses: [{ ipAddress: ip }] },
        headers: { "Content-Type": "application/merge-patch+json" },
      });
    expect((await patch("10.213.1.11")).status).toBe(200);
    await eventually(
      "changed address",
      () => byMac("02:00:00:00:00:01"),
      (l) => l.length === 1 && l[0]!["ip-address"] === "10.213.1.11",
    );
    expect((await patch("10.213.2.11")).status).toBe(200);
    const moved = await eventually(
      "moved to subnet 2",
      () => byMac("02:00:00:00:00:01"),
      (l) => l.length === 1 && l[0]!.subnet === 2,
    );
    expect(moved[0]!["ip-address"]).toBe("10.213.2.11");
    expect((await control.call("DELETE", `${C}/x1000c0s0b0n0`)).status).toBe(204);
    await eventually(
      "removed",
      () => byMac("02:00:00:00:00:01"),
      (l) => l.length === 0,
    );
    await manualIntact();
  });

  it("reports what it cannot place or Kea refuses, puts the rest in, and Kea keeps answering", async () => {
    const res = await control.call("POST", "/hsm/v2/import", {
      body: {
        components: [
          node("outside", "02:00:00:00:00:02", "192.168.77.7"),
          // The address of the hand-written reservation: config-test refuses it.
          node("clash", "02:00:00:00:00:03", MANUAL["ip-address"]),
          node("fine", "02:00:00:00:00:04", "10.213.1.12"),
        ],
      },
    });
    expect(res.status, res.text).toBeLessThan(300);
    const s = await eventually(
      "problems reported",
      edgeStatus,
      (s) => s.kea.problems.byReason.refused === 1 && s.kea.problems.byReason["outside-subnets"] === 1,
    );
    expect(s.kea.state).toBe("problems");
    expect(s.kea.problems.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          reason: "outside-subnets",
          componentId: "outside",
          address: "192.168.77.7",
        }),
        expect.objectContaining({
          reason: "refused",
          componentId: "clash",
          address: MANUAL["ip-address"],
          detail: expect.stringContaining(MANUAL["ip-address"]),
          attempts: expect.any(Number),
          retryAt: expect.any(String),
        }),
      ]),
    );
    expect(await metric('chamicore_edge_kea_problems{reason="refused"}')).toBe(1);
    expect(await metric('chamicore_edge_kea_problems{reason="outside-subnets"}')).toBe(1);
    expect((await byMac("02:00:00:00:00:04")).map((r) => r["ip-address"])).toEqual(["10.213.1.12"]);
    expect(await byMac("02:00:00:00:00:03")).toEqual([]);
    await manualIntact();
    // Kea still answers (the refused candidate never reached config-set).
    expect((await kea.command("status-get")).result).toBe(0);

    // Fixing the inventory clears the problem at once, without waiting for the backoff.
    const fix = await control.call("PATCH", "/hsm/v2/Inventory/EthernetInterfaces/020000000003", {
      body: { ipAddresses: [{ ipAddress: "10.213.1.13" }] },
      headers: { "Content-Type": "application/merge-patch+json" },
    });
    expect(fix.status).toBe(200);
    await eventually(
      "fixed",
      () => byMac("02:00:00:00:00:03"),
      (l) => l[0]?.["ip-address"] === "10.213.1.13",
    );
    expect((await edgeStatus()).kea.problems.byReason.refused).toBe(0);
  });

  it("repairs drift at the next full reconcile, and never touches a reservation it does not own", async () => {
    // Someone edits Kea by hand: adds their own reservation and deletes one of Chamicore's.
    const cfg = (await kea.command("config-get")).arguments.Dhcp4;
    const extra = { "hw-address": "0e:00:00:00:00:02", "ip-address": "10.213.2.200", hostname: "by-hand" };
    cfg.subnet4[0].reservations = cfg.subnet4[0].reservations.filter(
      (r: Held) => r["hw-address"] !== "02:00:00:00:00:04",
    );
    cfg.subnet4[1].reservations = [...(cfg.subnet4[1].reservations ?? []), extra];
    expect((await kea.command("config-set", { Dhcp4: cfg })).result).toBe(0);
    const before = (await edgeStatus()).kea.lastFullReconcileAt;
    await eventually(
      "a full reconcile",
      edgeStatus,
      (s) => s.kea.lastFullReconcileAt !== before && s.kea.state !== "unreachable",
      15_000,
    );
    await eventually(
      "restored",
      () => byMac("02:00:00:00:00:04"),
      (l) => l.length === 1,
    );
    expect((await byMac("0e:00:00:00:00:02")).map((r) => [r.subnet, r["ip-address"], r.hostname])).toEqual([
      [2, "10.213.2.200", "by-hand"],
    ]);
    await manualIntact();
  });

  it("turns a burst of changes into a few writes", async () => {
    const writes = await metric('chamicore_edge_kea_writes_total{result="ok"}');
    const components = Array.from({ length: 400 }, (_, i) =>
      node(
        `burst${i}`,
        `02:00:00:01:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`,
        `10.213.2.${i % 200}`,
      ),
    ).filter((_, i) => i % 200 !== 0 && i < 199);
    // 198 nodes with distinct addresses 10.213.2.1–198, in one import and then one by one.
    const half = components.length / 2;
    expect(
      (await control.call("POST", "/hsm/v2/import", { body: { components: components.slice(0, half) } }))
        .status,
    ).toBeLessThan(300);
    for (const c of components.slice(half))
      expect((await control.call("POST", C, { body: c })).status).toBe(201);
    await eventually(
      "all in Kea",
      async () => (await inKea()).filter((r) => r.hostname?.startsWith("burst")).length,
      (n) => n === components.length,
      30_000,
    );
    const used = (await metric('chamicore_edge_kea_writes_total{result="ok"}')) - writes;
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(components.length / 4);
  });

  it("keeps serving with Kea gone, and says so", async () => {
    await kea.stop();
    await create("after-kea", "02:00:00:00:00:09", "10.213.1.99");
    const s = await eventually("unreachable", edgeStatus, (s) => s.kea.state === "unreachable");
    expect(s.kea.lastError).toMatch(/^Kea /);
    expect(await metric("chamicore_edge_kea_up")).toBe(0);
    const boot = await fetch(`${edge.url}/boot/v1/bootscript?mac=02:00:00:00:00:09`);
    expect(boot.status).toBe(200);
  });
});
