import { describe, expect, it } from "vitest";
import { ConfigError, loadControlConfig } from "../../control/config";

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

describe("loadControlConfig", () => {
  it("has defaults for an empty environment", () => {
    expect(loadControlConfig({})).toEqual({
      CHAMICORE_LISTEN: { host: "0.0.0.0", port: 8080 },
      CHAMICORE_DATA_DIR: "./.chamicore",
      CHAMICORE_LOG_LEVEL: "info",
    });
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
    expect(loadControlConfig({ DATABASE_URL: "postgres://db/x" }).DATABASE_URL).toBe("postgres://db/x");
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
