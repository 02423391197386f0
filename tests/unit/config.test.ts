import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadControlConfig } from "../../control/config";
import { DEBIAN_IPXE_DIR, loadEdgeConfig } from "../../edge-node/config";
import { ConfigError } from "../../functions/config";
import { generateMasterKey } from "../../shared/auth/crypto";

/** The ConfigError that loading `env` throws. */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadControlConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

const KEY = generateMasterKey();

describe("loadControlConfig", () => {
  it("has defaults for an empty environment", () => {
    expect(loadControlConfig({})).toEqual({
      CHAMICORE_LISTEN: { host: "0.0.0.0", port: 8080 },
      CHAMICORE_DATA_DIR: "./.chamicore",
      CHAMICORE_LOG_LEVEL: "info",
      CHAMICORE_DEV_MODE: false,
      CHAMICORE_TOKEN_TTL: 3600,
      CHAMICORE_KEY_ALGORITHM: "ES256",
      CHAMICORE_LOGIN_MAX_FAILURES_PER_CLIENT: 10,
      CHAMICORE_LOGIN_MAX_FAILURES_PER_ADDRESS: 30,
      CHAMICORE_LOGIN_WINDOW_SECONDS: 60,
      CHAMICORE_BOOT_UNKNOWN_MAC: "retry",
      CHAMICORE_TRUSTED_PROXIES: [],
      CHAMICORE_NATS_STREAM: "CHAMICORE",
      CHAMICORE_NATS_SUBJECT_PREFIX: "chamicore",
      CHAMICORE_OUTBOX_RETENTION_DAYS: 7,
      CHAMICORE_POWER_MAX_NODES: 20,
      CHAMICORE_POWER_CONCURRENCY: 20,
      CHAMICORE_POWER_POLL_SECONDS: 2,
      CHAMICORE_DISCOVERY_SCHEDULE_POLL_SECONDS: 30,
      CHAMICORE_AUDIT_RETENTION_DAYS: 90,
    });
  });

  it("reads the audit retention in days and names a bad one", () => {
    expect(loadControlConfig({ CHAMICORE_AUDIT_RETENTION_DAYS: "365" }).CHAMICORE_AUDIT_RETENTION_DAYS).toBe(
      365,
    );
    for (const bad of ["0", "-1", "forever", "40000"])
      expect(configError({ CHAMICORE_AUDIT_RETENTION_DAYS: bad }).message).toMatch(
        /CHAMICORE_AUDIT_RETENTION_DAYS/,
      );
  });

  it("reads the power limits and names a bad one", () => {
    const c = loadControlConfig({
      CHAMICORE_POWER_MAX_NODES: "100",
      CHAMICORE_POWER_CONCURRENCY: "8",
      CHAMICORE_POWER_POLL_SECONDS: "0.5",
    });
    expect([
      c.CHAMICORE_POWER_MAX_NODES,
      c.CHAMICORE_POWER_CONCURRENCY,
      c.CHAMICORE_POWER_POLL_SECONDS,
    ]).toEqual([100, 8, 0.5]);
    expect(() => loadControlConfig({ CHAMICORE_POWER_MAX_NODES: "0" })).toThrow(/CHAMICORE_POWER_MAX_NODES/);
    expect(() => loadControlConfig({ CHAMICORE_POWER_CONCURRENCY: "many" })).toThrow(
      /CHAMICORE_POWER_CONCURRENCY/,
    );
  });

  it("ignores unrelated variables such as PATH", () => {
    const c = loadControlConfig({ PATH: "/usr/bin", HOME: "/root" });
    expect(c).not.toHaveProperty("PATH");
  });

  it("counts empty strings and undefined as unset", () => {
    expect(
      loadControlConfig({
        CHAMICORE_LISTEN: "",
        CHAMICORE_DATA_DIR: "",
        DATABASE_URL: "",
        CHAMICORE_PUBLIC_URL: "",
        CHAMICORE_LOG_LEVEL: undefined,
      }),
    ).toEqual(loadControlConfig({}));
  });

  it.each([
    ["127.0.0.1:9000", { host: "127.0.0.1", port: 9000 }],
    ["localhost:1", { host: "localhost", port: 1 }],
    ["[::1]:9000", { host: "::1", port: 9000 }],
    ["[::]:8080", { host: "::", port: 8080 }],
    ["0.0.0.0:65535", { host: "0.0.0.0", port: 65535 }],
    ["127.0.0.1:0", { host: "127.0.0.1", port: 0 }],
  ])("parses CHAMICORE_LISTEN=%s", (listen, expected) => {
    expect(loadControlConfig({ CHAMICORE_LISTEN: listen }).CHAMICORE_LISTEN).toEqual(expected);
  });

  it("keeps the other settings", () => {
    const c = loadControlConfig({
      CHAMICORE_MASTER_KEY: KEY,
      CHAMICORE_DATA_DIR: "/var/lib/chamicore",
      DATABASE_URL: "postgresql://u:p@db:5432/chamicore",
      CHAMICORE_PUBLIC_URL: "https://chamicore.example.org",
      CHAMICORE_LOG_LEVEL: "debug",
    });
    expect(c).toMatchObject({
      CHAMICORE_DATA_DIR: "/var/lib/chamicore",
      DATABASE_URL: "postgresql://u:p@db:5432/chamicore",
      CHAMICORE_PUBLIC_URL: "https://chamicore.example.org",
      CHAMICORE_LOG_LEVEL: "debug",
    });
    expect(
      loadControlConfig({ DATABASE_URL: "postgres://db/x", CHAMICORE_MASTER_KEY: KEY }).DATABASE_URL,
    ).toBe("postgres://db/x");
  });

  it.each(["8080", ":8080", "localhost", "::1:9000", "host:port", "host:65536", "host:123456", "a b:80"])(
    "refuses CHAMICORE_LISTEN=%j, naming the variable",
    (listen) => {
      const e = configError({ CHAMICORE_LISTEN: listen });
      expect(e).toBeInstanceOf(Error);
      expect(e.message).toContain("CHAMICORE_LISTEN:");
    },
  );

  it("says the port range for an out-of-range port", () => {
    expect(configError({ CHAMICORE_LISTEN: "host:65536" }).message).toMatch(
      /CHAMICORE_LISTEN: port must be 0–65535/,
    );
  });

  it.each(["mysql://db/x", "sqlite:./x.db", "db.example.org:5432", "http://postgres"])(
    "refuses DATABASE_URL=%j, naming the variable",
    (url) => {
      const e = configError({ DATABASE_URL: url });
      expect(e.message).toContain("DATABASE_URL: must be a postgres:// or postgresql:// URL");
    },
  );

  it("refuses an unknown log level and a non-URL public URL", () => {
    expect(configError({ CHAMICORE_LOG_LEVEL: "verbose" }).message).toContain("CHAMICORE_LOG_LEVEL:");
    expect(configError({ CHAMICORE_PUBLIC_URL: "not a url" }).message).toContain("CHAMICORE_PUBLIC_URL:");
  });

  it("names every bad variable at once", () => {
    const e = configError({ CHAMICORE_LISTEN: "nope", DATABASE_URL: "mysql://x" });
    expect(e.message).toMatch(/^invalid configuration:\n/);
    expect(e.message).toContain("CHAMICORE_LISTEN:");
    expect(e.message).toContain("DATABASE_URL:");
  });
});

describe("auth configuration", () => {
  it("requires CHAMICORE_MASTER_KEY with DATABASE_URL, and says how to make one", () => {
    const e = configError({ DATABASE_URL: "postgres://db/x" });
    expect(e.message).toMatch(/CHAMICORE_MASTER_KEY: is required with DATABASE_URL/);
    expect(e.message).toContain("openssl rand -base64 32");
  });

  it.each(["short", btoa("x".repeat(31)), btoa("x".repeat(33)), "not base64 at all!"])(
    "refuses a master key that is not 32 bytes of base64 (%j) without echoing it",
    (key) => {
      const e = configError({ CHAMICORE_MASTER_KEY: key });
      expect(e.message).toMatch(/CHAMICORE_MASTER_KEY: must be base64 of 32 random bytes/);
      expect(e.message).not.toContain(key);
    },
  );

  it("takes bootstrap credentials only as a pair", () => {
    expect(configError({ CHAMICORE_BOOTSTRAP_CLIENT_ID: "ops" }).message).toMatch(
      /CHAMICORE_BOOTSTRAP_CLIENT_SECRET: .*go together/,
    );
    const c = loadControlConfig({
      CHAMICORE_BOOTSTRAP_CLIENT_ID: "ops",
      CHAMICORE_BOOTSTRAP_CLIENT_SECRET: "a-long-enough-secret",
    });
    expect(c.CHAMICORE_BOOTSTRAP_CLIENT_ID).toBe("ops");
    expect(
      configError({ CHAMICORE_BOOTSTRAP_CLIENT_ID: "ops", CHAMICORE_BOOTSTRAP_CLIENT_SECRET: "short" })
        .message,
    ).toMatch(/CHAMICORE_BOOTSTRAP_CLIENT_SECRET: must be at least 16 characters/);
  });

  it.each([
    ["CHAMICORE_TOKEN_TTL", "10", /at least 60/],
    ["CHAMICORE_TOKEN_TTL", "100000", /at most 86400/],
    ["CHAMICORE_DEV_MODE", "yes", /true or false/],
    ["CHAMICORE_TRUSTED_ISSUERS", "{not json", /JSON array of trusted issuers/],
    ["CHAMICORE_TRUSTED_ISSUERS", '[{"issuer":"x"}]', /CHAMICORE_TRUSTED_ISSUERS/],
    ["CHAMICORE_METRICS_LISTEN", "9090", /host:port/],
    ["CHAMICORE_BOOT_UNKNOWN_MAC", "ignore", /retry or 404/],
    ["CHAMICORE_TRUSTED_PROXIES", "10.0.0.0/8,proxy.example", /address or CIDR/],
    ["CHAMICORE_NATS_STREAM", "has space", /letters, digits/],
    ["CHAMICORE_NATS_SUBJECT_PREFIX", "a..b", /dot-separated tokens/],
  ])("refuses %s=%s", (name, value, message) => {
    expect(configError({ [name]: value }).message).toMatch(message);
  });

  it("parses trusted issuers with their defaults", () => {
    const c = loadControlConfig({
      CHAMICORE_TRUSTED_ISSUERS: JSON.stringify([
        { issuer: "https://idp.example", jwksUri: "https://idp.example/keys", audience: "chamicore" },
      ]),
    });
    expect(c.CHAMICORE_TRUSTED_ISSUERS).toEqual([
      {
        issuer: "https://idp.example",
        jwksUri: "https://idp.example/keys",
        audience: "chamicore",
        rolesClaim: "groups",
        roleMap: {},
        defaultRoles: [],
        subjectPrefix: "ext:",
      },
    ]);
  });
});

describe("trusted issuers keep their users apart from roles and service accounts", () => {
  const issuer = (extra: Record<string, unknown>) => ({
    issuer: "https://idp.example",
    jwksUri: "https://idp.example/keys",
    audience: "chamicore",
    ...extra,
  });

  it.each([[""], ["corp"], ["a b:"]])("refuses subjectPrefix %j: it must end with ':'", (prefix) => {
    expect(
      configError({ CHAMICORE_TRUSTED_ISSUERS: JSON.stringify([issuer({ subjectPrefix: prefix })]) }).message,
    ).toMatch(/ending with ':'/);
  });

  it("offers an issuer for the UI's login with its default scope, and refuses login settings without a client", () => {
    const c = loadControlConfig({
      CHAMICORE_TRUSTED_ISSUERS: JSON.stringify([
        issuer({ login: { clientId: "chamicore-ui", name: "Corp SSO" } }),
      ]),
    });
    expect(c.CHAMICORE_TRUSTED_ISSUERS?.[0]?.login).toEqual({
      clientId: "chamicore-ui",
      name: "Corp SSO",
      scope: "openid profile email",
    });
    expect(
      configError({ CHAMICORE_TRUSTED_ISSUERS: JSON.stringify([issuer({ login: { name: "x" } })]) }).message,
    ).toMatch(/CHAMICORE_TRUSTED_ISSUERS.*login.*clientId/s);
    expect(
      configError({
        CHAMICORE_TRUSTED_ISSUERS: JSON.stringify([issuer({ login: { clientId: "a", redirect: "/x" } })]),
      }).message,
    ).toMatch(/redirect/);
  });

  it("refuses two issuers sharing a prefix", () => {
    const two = [issuer({}), issuer({ issuer: "https://other.example" })];
    expect(configError({ CHAMICORE_TRUSTED_ISSUERS: JSON.stringify(two) }).message).toMatch(
      /share subjectPrefix 'ext:'/,
    );
  });
});

describe("serving configuration", () => {
  it("splits trusted proxies on commas", () => {
    expect(
      loadControlConfig({ CHAMICORE_TRUSTED_PROXIES: "10.0.0.0/8, 192.168.1.5 ,::1" })
        .CHAMICORE_TRUSTED_PROXIES,
    ).toEqual(["10.0.0.0/8", "192.168.1.5", "::1"]);
  });
});

describe("the edge's first stage (TFTP and the iPXE directory)", () => {
  const edge = { CHAMICORE_CONTROL_URL: "http://control.example" };

  it("has TFTP off by default and the iPXE binaries in Debian's place when they are there", () => {
    const c = loadEdgeConfig(edge);
    expect(c.CHAMICORE_EDGE_TFTP_LISTEN).toBeUndefined();
    expect(c.CHAMICORE_EDGE_IPXE_DIR).toBe(existsSync(DEBIAN_IPXE_DIR) ? DEBIAN_IPXE_DIR : undefined);
  });

  it("takes a listen address (port 0 for a free one) and a directory", () => {
    const c = loadEdgeConfig({
      ...edge,
      CHAMICORE_EDGE_TFTP_LISTEN: "127.0.0.1:0",
      CHAMICORE_EDGE_IPXE_DIR: "/srv/ipxe",
    });
    expect(c.CHAMICORE_EDGE_TFTP_LISTEN).toEqual({ host: "127.0.0.1", port: 0 });
    expect(c.CHAMICORE_EDGE_IPXE_DIR).toBe("/srv/ipxe");
  });

  it("names the variable when the listen address is wrong", () => {
    expect(() => loadEdgeConfig({ ...edge, CHAMICORE_EDGE_TFTP_LISTEN: "69" })).toThrow(
      /CHAMICORE_EDGE_TFTP_LISTEN: must be host:port/,
    );
  });
});
