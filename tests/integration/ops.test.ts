/**
 * The operational surface of the real Node server (embedded PGlite): health,
 * readiness, version, Prometheus metrics labelled by route template, request
 * ids, and the headers and problem bodies every answer carries.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startControl } from "../../control/node/serve";
import { silentLogger } from "../../shared/log";
import { API_VERSION } from "../../shared/version";
import { nodePgliteTarget, type Target, targetEnv } from "../support/targets";

const C = "/hsm/v2/State/Components";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));

let t: Target;
beforeAll(async () => {
  t = await nodePgliteTarget();
});
afterAll(async () => {
  await t?.stop();
});

describe("operational endpoints", () => {
  it("/health answers ok", async () => {
    const a = await t.call("GET", "/health");
    expect(a.status).toBe(200);
    expect(a.json).toEqual({ status: "ok" });
  });

  it("/readiness answers ready once migrated", async () => {
    const a = await t.call("GET", "/readiness");
    expect(a.status).toBe(200);
    expect(a.json.status).toBe("ready");
  });

  it("/version reports package.json's version and the node runtime", async () => {
    const a = await t.call("GET", "/version");
    expect(a.status).toBe(200);
    expect(a.json).toEqual({ version: pkg.version, apiVersion: API_VERSION, runtime: "node" });
  });
});

/** The value of one exposition line, e.g. `name{labels}`; undefined when absent. */
const sample = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe("/metrics", () => {
  it("is Prometheus text labelled by route template, with histograms", async () => {
    expect((await t.call("GET", `${C}/x9999c0s0b0n0`)).status).toBe(404);
    expect((await t.call("GET", "/no/such/path")).status).toBe(404);
    const a = await t.call("GET", "/metrics");
    expect(a.status).toBe(200);
    expect(a.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const missing = `method="GET",route="${C}/:id",status="404"`;
    expect(sample(a.text, `chamicore_http_requests_total{${missing}}`)).toBeGreaterThanOrEqual(1);
    expect(a.text).toMatch(/^# TYPE chamicore_http_request_duration_seconds histogram$/m);
    expect(
      sample(a.text, `chamicore_http_request_duration_seconds_bucket{${missing},le="+Inf"}`),
    ).toBeGreaterThanOrEqual(1);
    const unmatched = 'method="GET",route="unmatched",status="404"';
    expect(sample(a.text, `chamicore_http_requests_total{${unmatched}}`)).toBeGreaterThanOrEqual(1);
    expect(a.text, "raw ids must not become labels").not.toContain("x9999c0s0b0n0");
  });

  // A request that only a path-scoped middleware (`/hsm/*`, `/readiness`) matched
  // was once labelled with that middleware's path; it must count as "unmatched".
  it("counts every request no handler serves as unmatched", async () => {
    expect((await t.call("GET", "/hsm/v2/NoSuchCollection")).status).toBe(404);
    expect((await t.call("POST", "/readiness")).status).toBe(404);
    const a = await t.call("GET", "/metrics");
    expect(a.text).not.toContain('route="/hsm/*"');
    expect(a.text).not.toContain('method="POST",route="/readiness"');
  });
});

describe("request ids", () => {
  const idOf = async (sent?: string) => {
    const a = await t.call("GET", "/health", sent === undefined ? {} : { headers: { "X-Request-ID": sent } });
    return a.headers.get("x-request-id");
  };

  it("is generated (a UUID) when absent", async () => {
    expect(await idOf()).toMatch(UUID);
  });

  it("echoes a sane id from the client", async () => {
    expect(await idOf("abc-123")).toBe("abc-123");
  });

  it("replaces an id with spaces or longer than 255 characters", async () => {
    expect(await idOf("abc 123")).toMatch(UUID);
    expect(await idOf("a".repeat(256))).toMatch(UUID);
  });

  it("is carried in problem bodies", async () => {
    const sent = await t.call("GET", `${C}/x9999c0s0b0n0`, { headers: { "X-Request-ID": "trace-42" } });
    expect(sent.json.requestId).toBe("trace-42");
    const minted = await t.call("GET", "/no/such/path");
    expect(minted.json.requestId).toBe(minted.headers.get("x-request-id"));
    expect(minted.json.requestId).toMatch(UUID);
  });
});

describe("headers on every answer", () => {
  const answers = () =>
    Promise.all([
      t.call("GET", "/health"),
      t.call("GET", "/metrics"),
      t.call("GET", `${C}/x9999c0s0b0n0`),
      t.call("GET", "/no/such/path"),
      t.call("POST", C, { body: "not json", headers: { "Content-Type": "text/plain" } }),
    ]);

  it("security headers and API-Version, errors included", async () => {
    for (const a of await answers()) {
      expect(a.headers.get("x-content-type-options")).toBe("nosniff");
      expect(a.headers.get("x-frame-options")).toBe("DENY");
      expect(a.headers.get("api-version")).toBe(API_VERSION);
    }
  });

  it("Cache-Control: no-cache on GET, no-store on POST", async () => {
    expect((await t.call("GET", "/health")).headers.get("cache-control")).toBe("no-cache");
    const created = await t.call("POST", C, { body: { id: "x1000c0s0b0", state: "Ready" } });
    expect(created.status).toBe(201);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const refused = await t.call("POST", C, { body: {} });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.headers.get("cache-control")).toBe("no-store");
  });
});

describe("bodiless writes", () => {
  it("a POST with no body and no content type is a client problem, not a 500", async () => {
    const a = await t.call("POST", C);
    expect([400, 422]).toContain(a.status);
    expect(a.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(a.json.status).toBe(a.status);
    expect(a.json.requestId).toBe(a.headers.get("x-request-id"));
  });
});

describe("/metrics for Prometheus", () => {
  it("needs read:metrics on the API address, and no token on CHAMICORE_METRICS_LISTEN", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chamicore-metrics-"));
    const running = await startControl(
      {
        CHAMICORE_LISTEN: "127.0.0.1:0",
        CHAMICORE_DATA_DIR: dir,
        CHAMICORE_METRICS_LISTEN: "127.0.0.1:0",
        ...targetEnv(),
      },
      silentLogger,
    );
    try {
      expect(running.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect((await fetch(`${running.url}/metrics`)).status).toBe(401);
      await fetch(`${running.url}/health`);
      const open = await fetch(running.metricsUrl!);
      expect(open.status).toBe(200);
      // The same registry as the API's: it counted the refused scrape above.
      expect(await open.text()).toContain('route="/metrics",status="401"');
      // Only metrics live there.
      expect((await fetch(running.metricsUrl!.replace("/metrics", "/hsm/v2/State/Components"))).status).toBe(
        404,
      );
    } finally {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
