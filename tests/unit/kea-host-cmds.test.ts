/**
 * The host_cmds strategy. Debian's Kea 2.2 does not ship the host_cmds hook,
 * so this is the one Kea path that cannot run for real here: a small fake
 * control agent stands in, answering `reservation-add`, `reservation-del`
 * and `reservation-get-all` with the result codes and refusals Kea's
 * documentation gives (0 success, 1 error, 3 empty; a second reservation for
 * an address or a MAC in one subnet is refused). The config strategy, which
 * is what runs here, is tested against the real Kea in
 * tests/integration/kea-sync.test.ts.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeaClient } from "../../edge-node/kea/client";
import type { DhcpHost } from "../../edge-node/kea/reservations";
import { detectStrategy } from "../../edge-node/kea/strategy";
import { KeaSync } from "../../edge-node/kea/sync";
import { createLogger } from "../../shared/log";
import { Registry } from "../../shared/metrics";

type Host = Record<string, unknown> & { "subnet-id": number; "hw-address": string; "ip-address": string };

class FakeAgent {
  hosts: Host[] = [];
  commands: string[] = [];
  hostCmds = true;
  hostsDatabase = true;
  /** Milliseconds each reservation-add takes (a slow database). */
  addDelayMs = 0;
  private server: Server | undefined;
  url = "";

  answer(
    command: string,
    args: Record<string, unknown>,
  ): { result: number; text?: string; arguments?: unknown } {
    switch (command) {
      case "list-commands":
        return {
          result: 0,
          arguments: [
            "config-get",
            "config-set",
            "list-commands",
            ...(this.hostCmds ? ["reservation-add", "reservation-del", "reservation-get-all"] : []),
          ],
        };
      case "config-get":
        return {
          result: 0,
          arguments: {
            Dhcp4: {
              subnet4: [
                { id: 1, subnet: "10.1.0.0/24", reservations: [] },
                { id: 2, subnet: "10.2.0.0/24", reservations: [] },
              ],
              ...(this.hostsDatabase ? { "hosts-database": { type: "postgresql", name: "kea" } } : {}),
            },
          },
        };
      case "reservation-get-all": {
        const hosts = this.hosts.filter((h) => h["subnet-id"] === args["subnet-id"]);
        return hosts.length
          ? { result: 0, text: `${hosts.length} IPv4 host(s) found.`, arguments: { hosts } }
          : { result: 3, text: "0 IPv4 host(s) found.", arguments: { hosts: [] } };
      }
      case "reservation-add": {
        const r = args.reservation as Host;
        const clash = this.hosts.find(
          (h) =>
            h["subnet-id"] === r["subnet-id"] &&
            (h["ip-address"] === r["ip-address"] || h["hw-address"] === r["hw-address"]),
        );
        if (clash) return { result: 1, text: "Database duplicate entry error" };
        this.hosts.push(r);
        return { result: 0, text: "Host added." };
      }
      case "reservation-del": {
        const before = this.hosts.length;
        this.hosts = this.hosts.filter(
          (h) => !(h["subnet-id"] === args["subnet-id"] && h["hw-address"] === args.identifier),
        );
        return before > this.hosts.length
          ? { result: 0, text: "Host deleted." }
          : { result: 3, text: "Host not deleted (not found)." };
      }
      default:
        return { result: 2, text: `'${command}' command not supported.` };
    }
  }

  async start() {
    this.server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        const { command, arguments: args } = JSON.parse(body) as {
          command: string;
          arguments?: Record<string, unknown>;
        };
        this.commands.push(command);
        const delay = command === "reservation-add" ? this.addDelayMs : 0;
        setTimeout(() => {
          res.setHeader("Content-Type", "application/json");
          res.end(JSON.stringify([this.answer(command, args ?? {})]));
        }, delay);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  stop() {
    return new Promise<void>((r) => this.server?.close(() => r()));
  }
}

const agent = new FakeAgent();
beforeAll(() => agent.start());
afterAll(() => agent.stop());

const host = (id: string, mac: string, ip: string): DhcpHost => ({
  componentId: id,
  interfaceId: mac.replaceAll(":", ""),
  mac,
  addresses: [ip],
});

describe("host_cmds strategy", () => {
  it("is chosen only when Kea has the hook and a hosts database for it to write to", async () => {
    const kea = new KeaClient(agent.url);
    expect((await detectStrategy(kea)).name).toBe("host_cmds");
    agent.hostsDatabase = false;
    expect((await detectStrategy(kea)).name).toBe("config");
    agent.hostsDatabase = true;
    agent.hostCmds = false;
    expect((await detectStrategy(kea)).name).toBe("config");
    agent.hostCmds = true;
  });

  it("adds, changes and removes only Chamicore's reservations, one command per change, and reports refusals", async () => {
    const manual: Host = { "subnet-id": 1, "hw-address": "bb:00:00:00:00:01", "ip-address": "10.1.0.50" };
    agent.hosts = [manual];
    let hosts = [host("n1", "aa:00:00:00:00:01", "10.1.0.1"), host("n2", "aa:00:00:00:00:02", "10.1.0.50")];
    const sync = new KeaSync({
      kea: new KeaClient(agent.url),
      hosts: () => hosts,
      logger: createLogger({ level: "error" }),
      registry: new Registry(),
      reconcileMs: 600_000,
      settleMs: 10,
    });
    sync.start();
    try {
      await sync.settled();
      expect(sync.status().strategy).toBe("host_cmds");
      // n2 wants the manual reservation's address: refused by Kea, reported, manual untouched.
      expect(agent.hosts).toEqual([
        manual,
        expect.objectContaining({
          "subnet-id": 1,
          "hw-address": "aa:00:00:00:00:01",
          "ip-address": "10.1.0.1",
        }),
      ]);
      const s = sync.status();
      expect(s.state).toBe("problems");
      expect(s.problems.items).toEqual([
        expect.objectContaining({
          reason: "refused",
          componentId: "n2",
          detail: "Database duplicate entry error",
        }),
      ]);

      // n1 moves to subnet 2, n2 gets a free address: a del and two adds, nothing else.
      agent.commands = [];
      hosts = [host("n1", "aa:00:00:00:00:01", "10.2.0.1"), host("n2", "aa:00:00:00:00:02", "10.1.0.2")];
      await sync.settled();
      expect(agent.commands.filter((c) => c.startsWith("reservation"))).toEqual([
        "reservation-del",
        "reservation-add",
        "reservation-add",
      ]);
      expect(agent.hosts.map((h) => [h["subnet-id"], h["hw-address"], h["ip-address"]])).toEqual([
        [1, "bb:00:00:00:00:01", "10.1.0.50"],
        [2, "aa:00:00:00:00:01", "10.2.0.1"],
        [1, "aa:00:00:00:00:02", "10.1.0.2"],
      ]);
      expect(sync.status()).toMatchObject({ state: "in-step", reservations: 2, problems: { total: 0 } });

      // Everything gone from the inventory: Chamicore's reservations go, the manual one stays.
      hosts = [];
      await sync.settled();
      expect(agent.hosts).toEqual([manual]);
    } finally {
      await sync.stop();
    }
  });

  it("lets the write in flight finish when it is stopped", async () => {
    agent.hosts = [];
    agent.addDelayMs = 150;
    const sync = new KeaSync({
      kea: new KeaClient(agent.url),
      hosts: () => [host("n1", "aa:00:00:00:00:01", "10.1.0.1"), host("n2", "aa:00:00:00:00:02", "10.1.0.2")],
      logger: createLogger({ level: "error" }),
      registry: new Registry(),
      reconcileMs: 600_000,
    });
    try {
      agent.commands = [];
      sync.start();
      while (!agent.commands.includes("reservation-add")) await new Promise((r) => setTimeout(r, 5));
      await sync.stop();
      // Both adds of the round went through before stop() returned; nothing after it.
      expect(agent.hosts.map((h) => h["hw-address"])).toEqual(["aa:00:00:00:00:01", "aa:00:00:00:00:02"]);
      const sent = agent.commands.length;
      await new Promise((r) => setTimeout(r, 300));
      expect(agent.commands.length).toBe(sent);
    } finally {
      agent.addDelayMs = 0;
      await sync.stop();
    }
  });
});
