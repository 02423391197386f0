/**
 * The Redfish client against emulated BMCs over real HTTP(S): auth modes,
 * each error class, which failures are retried and how, TLS verification.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { normalizePath, RedfishClient, type RedfishClientOptions } from "../../functions/node/redfish/client";
import {
  RedfishHttpError,
  RedfishMalformed,
  RedfishNotFound,
  RedfishUnauthorized,
  RedfishUnreachable,
} from "../../functions/redfish/errors";
import {
  type BmcOptions,
  type EmulatedBmc,
  opensslUnavailable,
  selfSignedCertificate,
  startBmc,
} from "../support/bmc";
import { freePort } from "../support/process";

const started: EmulatedBmc[] = [];
const clients: RedfishClient[] = [];

async function bmc(opts: BmcOptions = {}) {
  const b = await startBmc(opts);
  started.push(b);
  return b;
}

function client(b: EmulatedBmc, opts: Partial<RedfishClientOptions> = {}) {
  const c = new RedfishClient({
    baseUrl: b.url,
    credentials: b.credentials,
    timeoutMs: 2_000,
    backoffMs: 10,
    ...opts,
  });
  clients.push(c);
  return c;
}

/** Catches the rejection, so its class and message can be checked. */
async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

const SYSTEM = "/redfish/v1/Systems/437XR1138R2";

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await Promise.all(started.map((b) => b.close()));
});

describe("RedfishClient auth", () => {
  it("reads with HTTP Basic", async () => {
    const b = await bmc();
    const c = client(b);
    const system = await c.get<{ Id: string; PowerState: string }>(SYSTEM);
    expect(system.Id).toBe("437XR1138R2");
    expect(await c.members("/redfish/v1/Systems")).toEqual([SYSTEM]);
    expect(b.requests.some((r) => r.path.startsWith("/redfish/v1/SessionService"))).toBe(false);
  });

  it("logs in once for concurrent requests, reuses the token, and logs out on close", async () => {
    const b = await bmc();
    const c = new RedfishClient({ baseUrl: b.url, credentials: b.credentials, auth: "session" });
    const [systems, managers, chassis] = await Promise.all([
      c.members("/redfish/v1/Systems"),
      c.members("/redfish/v1/Managers"),
      c.members("/redfish/v1/Chassis"),
    ]);
    expect(systems).toEqual([SYSTEM]);
    expect(managers.length).toBeGreaterThan(0);
    expect(chassis.length).toBeGreaterThan(0);
    const logins = b.requests.filter(
      (r) => r.method === "POST" && r.path === "/redfish/v1/SessionService/Sessions",
    );
    expect(logins).toHaveLength(1);
    expect(b.sessionTokens()).toHaveLength(1);
    await c.close();
    expect(b.sessionTokens()).toHaveLength(0);
    expect(b.requests.at(-1)).toMatchObject({ method: "DELETE", status: 204 });
  });

  it("logs in again once when the BMC forgets the session", async () => {
    const b = await bmc();
    const c = client(b, { auth: "session" });
    await c.get(SYSTEM);
    const first = b.sessionTokens();
    b.dropSessions();
    await expect(c.get(SYSTEM)).resolves.toMatchObject({ Id: "437XR1138R2" });
    const logins = b.requests.filter((r) => r.method === "POST" && r.path.endsWith("/Sessions"));
    expect(logins).toHaveLength(2);
    expect(b.sessionTokens()).toHaveLength(1);
    expect(b.sessionTokens()).not.toEqual(first);
  });

  it("reads the service root without credentials, as BMCs allow", async () => {
    const b = await bmc();
    const c = client(b, { credentials: { username: "nobody", password: "wrong" } });
    await expect(c.get("/redfish/v1/")).resolves.toMatchObject({ RedfishVersion: expect.any(String) });
  });

  it("fails with RedfishUnauthorized on bad credentials, without retrying (Basic)", async () => {
    const b = await bmc();
    const c = client(b, { credentials: { username: "admin", password: "wrong" } });
    const e = await failure(c.get(SYSTEM));
    expect(e).toBeInstanceOf(RedfishUnauthorized);
    expect(e.message).toContain(`${SYSTEM} refused the credentials (HTTP 401)`);
    expect(e.message).toContain("no valid session");
    expect(b.requests).toHaveLength(1);
  });

  it("fails with RedfishUnauthorized when the session login is refused, without retrying", async () => {
    const b = await bmc();
    const c = client(b, { auth: "session", credentials: { username: "admin", password: "wrong" } });
    const e = await failure(c.get(SYSTEM));
    expect(e).toBeInstanceOf(RedfishUnauthorized);
    expect(e.message).toContain("/redfish/v1/SessionService/Sessions refused the credentials");
    expect(b.requests).toHaveLength(1);
  });
});

describe("RedfishClient errors", () => {
  it("names the path of a 404", async () => {
    const b = await bmc();
    const e = await failure(client(b).get("/redfish/v1/Systems/nope"));
    expect(e).toBeInstanceOf(RedfishNotFound);
    expect(e.message).toBe(`Redfish ${b.url}: /redfish/v1/Systems/nope not found (HTTP 404)`);
    expect(b.requests).toHaveLength(1);
  });

  it("names the path of an answer that is not JSON", async () => {
    const b = await bmc({ faults: { malformed: 1 } });
    const e = await failure(client(b).get(SYSTEM));
    expect(e).toBeInstanceOf(RedfishMalformed);
    expect(e.message).toContain(`${SYSTEM} answered HTTP 200 that is not JSON`);
  });

  it("gives the BMC's own words for a refused action, without retrying", async () => {
    const b = await bmc();
    const e = await failure(
      client(b).post(`${SYSTEM}/Actions/ComputerSystem.Reset`, { ResetType: "Explode" }),
    );
    expect(e).toBeInstanceOf(RedfishHttpError);
    expect((e as RedfishHttpError).status).toBe(400);
    expect(e.message).toContain(
      "answered HTTP 400: The value 'Explode' for the parameter ResetType is not in the list",
    );
    expect(b.requests).toHaveLength(1);
  });

  it("retries 500s and succeeds once the BMC recovers", async () => {
    const b = await bmc({ faults: { fail500: 2 } });
    await expect(client(b, { maxAttempts: 3 }).get(SYSTEM)).resolves.toMatchObject({ Id: "437XR1138R2" });
    expect(b.requests.map((r) => r.status)).toEqual([500, 500, 200]);
  });

  it("gives up on 500s after maxAttempts, with the Redfish message", async () => {
    const b = await bmc({ faults: { fail500: Number.POSITIVE_INFINITY } });
    const e = await failure(client(b, { maxAttempts: 3 }).get(SYSTEM));
    expect(e).toBeInstanceOf(RedfishHttpError);
    expect(e.message).toContain(
      "answered HTTP 500 (after 3 attempts): The request failed due to an internal service error",
    );
    expect(b.requests).toHaveLength(3);
  });

  it("waits as long as Retry-After says on 429", async () => {
    const b = await bmc({ faults: { rateLimit: { count: 1, retryAfterS: 1 } } });
    await expect(client(b).get(SYSTEM)).resolves.toMatchObject({ Id: "437XR1138R2" });
    const [limited, retried] = b.requests;
    expect(limited?.status).toBe(429);
    expect(retried?.status).toBe(200);
    // backoffMs is 10: only Retry-After explains a second's wait.
    expect(retried!.at - limited!.at).toBeGreaterThanOrEqual(950);
  });

  it("times out on a BMC that never answers, and says after how many attempts", async () => {
    const b = await bmc({ faults: { hang: true } });
    const e = await failure(client(b, { timeoutMs: 150, maxAttempts: 2 }).get(SYSTEM));
    expect(e).toBeInstanceOf(RedfishUnreachable);
    expect(e.message).toBe(
      `Redfish ${b.url}: ${SYSTEM} unreachable after 2 attempts: timed out after 150 ms`,
    );
    expect((e as RedfishUnreachable).attempts).toBe(2);
    expect(b.requests).toHaveLength(2);
  });

  it("answers late but within the timeout: no retry", async () => {
    const b = await bmc({ faults: { delayMs: 100 } });
    await expect(client(b, { timeoutMs: 1_000 }).get(SYSTEM)).resolves.toMatchObject({ Id: "437XR1138R2" });
    expect(b.requests).toHaveLength(1);
  });

  it("reports a refused connection as unreachable with its cause", async () => {
    const port = await freePort();
    const c = new RedfishClient({
      baseUrl: `http://127.0.0.1:${port}`,
      credentials: { username: "a", password: "b" },
      backoffMs: 5,
      maxAttempts: 3,
    });
    clients.push(c);
    const e = await failure(c.get("/redfish/v1/Systems"));
    expect(e).toBeInstanceOf(RedfishUnreachable);
    expect(e.message).toMatch(/unreachable after 3 attempts: .*ECONNREFUSED/);
  });

  it("accepts @odata.id values and full URLs as paths", () => {
    expect(normalizePath("/redfish/v1/Systems/")).toBe("/redfish/v1/Systems");
    expect(normalizePath("https://10.0.0.1/redfish/v1/Chassis/1U/Power#/PowerControl/0")).toBe(
      "/redfish/v1/Chassis/1U/Power",
    );
    expect(normalizePath("redfish/v1")).toBe("/redfish/v1");
  });
});

const noOpenssl = opensslUnavailable();

describe.skipIf(noOpenssl)(`RedfishClient TLS${noOpenssl ? ` (skipped: ${noOpenssl})` : ""}`, () => {
  it("refuses a self-signed certificate by default, without retrying", async () => {
    const b = await bmc({ tls: selfSignedCertificate() });
    expect(b.url).toMatch(/^https:/);
    const e = await failure(client(b, { maxAttempts: 3 }).get(SYSTEM));
    expect(e).toBeInstanceOf(RedfishUnreachable);
    expect(e.message).toContain("unreachable after 1 attempt: TLS certificate not trusted");
    expect(e.message).toContain("set insecure for this BMC");
    expect(b.requests).toHaveLength(0);
  });

  it("accepts it for a BMC marked insecure", async () => {
    const b = await bmc({ tls: selfSignedCertificate() });
    await expect(client(b, { insecure: true }).get(SYSTEM)).resolves.toMatchObject({ Id: "437XR1138R2" });
  });

  it("accepts it, verified, when its certificate is given as the CA", async () => {
    const tls = selfSignedCertificate();
    const b = await bmc({ tls });
    await expect(client(b, { ca: tls.cert, auth: "session" }).get(SYSTEM)).resolves.toMatchObject({
      Id: "437XR1138R2",
    });
  });
});
