/**
 * The generated Kea settings for two-stage network boot: exact JSON against
 * a golden file (UPDATE_GOLDEN=1 rewrites it), and the command's refusals.
 * That Kea accepts them and a DHCP client gets the right answers is shown
 * by tests/integration/kea-dhcp.test.ts against a real kea-dhcp4.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type KeaConfigFlags, keaConfigCommand } from "../../edge-node/kea/command";
import { edgeTftpAddress, keaSiteConfig } from "../../edge-node/kea/site-config";

const GOLDEN = join(import.meta.dirname, "../golden/kea");

function golden(name: string, value: unknown) {
  const file = join(GOLDEN, name);
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN) writeFileSync(file, text);
  expect(text).toBe(readFileSync(file, "utf8"));
}

describe("keaSiteConfig", () => {
  it("TFTP for PXE firmware by architecture, the edge's boot script for iPXE", () => {
    golden(
      "site-config-tftp.json",
      keaSiteConfig({ edgeUrl: "http://10.0.0.1:8081/", tftpServer: "10.0.0.1" }),
    );
  });

  it("adds UEFI HTTP boot classes when the binaries are on HTTP, with other file names and hooks", () => {
    golden(
      "site-config-http.json",
      keaSiteConfig({
        edgeUrl: "https://edge-r3.example.org",
        httpBase: "http://10.0.0.1/ipxe/",
        hooksDir: "/opt/kea/lib/hooks/",
        files: { efi64: "snponly.efi" },
      }),
    );
  });

  it("finds the edge's next-server address in its TFTP listen address, else in its URL", () => {
    expect(edgeTftpAddress("http://10.0.0.1:8081", "10.0.0.2:69")).toBe("10.0.0.2");
    expect(edgeTftpAddress("http://10.0.0.1:8081", "0.0.0.0:69")).toBe("10.0.0.1");
    expect(edgeTftpAddress("http://10.0.0.1:8081", "[::]:69")).toBe("10.0.0.1");
    expect(edgeTftpAddress("http://10.0.0.1:8081")).toBe("10.0.0.1");
    expect(edgeTftpAddress("http://edge.example:8081", "edge.example:69")).toBeUndefined();
  });

  it("refuses an edge URL that would break Kea's expression", () => {
    expect(() => keaSiteConfig({ edgeUrl: "http://x/it's" })).toThrow(/quotes/);
    expect(() => keaSiteConfig({ edgeUrl: "ftp://x" })).toThrow(/http/);
  });
});

describe("chamicore edge kea-config", () => {
  const out: string[] = [];
  const err: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    out.length = 0;
    err.length = 0;
  });
  const run = (flags: KeaConfigFlags, env: Record<string, string> = {}) => {
    vi.spyOn(process.stdout, "write").mockImplementation((s) => out.push(String(s)) > 0);
    vi.spyOn(process.stderr, "write").mockImplementation((s) => err.push(String(s)) > 0);
    return keaConfigCommand(flags, env);
  };

  it("prints the JSON for the edge named by CHAMICORE_EDGE_PUBLIC_URL, the edge serving the binaries", () => {
    expect(run({}, { CHAMICORE_EDGE_PUBLIC_URL: "http://10.0.0.1:8081" })).toBe(0);
    expect(JSON.parse(out.join(""))).toEqual(
      keaSiteConfig({
        edgeUrl: "http://10.0.0.1:8081",
        tftpServer: "10.0.0.1",
        httpBase: "http://10.0.0.1:8081/boot/v1/ipxe",
      }),
    );
    expect(err).toEqual([]);
  });

  it("takes next-server from the edge's TFTP address, or from the flags, which win", () => {
    const nextServers = () => {
      const classes = JSON.parse(out.splice(0).join("")).Dhcp4["client-classes"] as Record<string, string>[];
      return [...new Set(classes.map((c) => c["next-server"]).filter(Boolean))];
    };
    const edge = { CHAMICORE_EDGE_PUBLIC_URL: "http://10.0.0.1:8081" };
    expect(run({}, { ...edge, CHAMICORE_EDGE_TFTP_LISTEN: "10.0.9.9:69" })).toBe(0);
    expect(nextServers()).toEqual(["10.0.9.9"]);
    expect(run({ "tftp-server": "10.0.0.7", "http-base": "http://web/ipxe" }, edge)).toBe(0);
    const printed = out.join("");
    expect(nextServers()).toEqual(["10.0.0.7"]);
    expect(printed).toContain('"boot-file-name": "http://web/ipxe/ipxe.efi"');
  });

  it("leaves next-server to the subnet, and says so, when the edge has no IPv4 address to give", () => {
    expect(run({ "edge-url": "http://edge-r3.example.org:8081" })).toBe(0);
    expect(out.join("")).not.toContain("next-server");
    expect(out.join("")).toContain("http://edge-r3.example.org:8081/boot/v1/ipxe/ipxe.efi");
    expect(err.join("")).toContain("--tftp-server");
  });

  it("says what is missing or wrong, with exit code 2", () => {
    expect(run({})).toBe(2);
    expect(err.join("")).toContain("--edge-url");
    expect(run({ "edge-url": "http://e:8081", "tftp-server": "tftp.local" })).toBe(2);
    expect(err.join("")).toContain("--tftp-server must be an IPv4 address");
    // An unknown flag is the CLI's to refuse: tests/e2e/cli.test.ts (edge kea-config --bogus).
  });
});
