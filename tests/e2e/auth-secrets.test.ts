/**
 * Secrets stay secret across a whole run of the real `chamicore` process:
 * service-account secrets, device-credential secrets, access tokens, the
 * master key and the private signing keys appear in no log line and in no
 * answer other than the one that creates them; at rest they are hashed or
 * sealed. Also: the bootstrap account follows its environment variables at
 * every start, and `chamicore auth rotate-keys` rotates from the shell.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../control/db/node";
import { credentials, serviceAccounts, signingKeys } from "../../control/db/schema";
import { importMasterKey, unseal } from "../../shared/auth/crypto";
import { freePort, run, serve } from "../support/process";

const dir = mkdtempSync(join(tmpdir(), "chamicore-secrets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BOOT_SECRET = "bootstrap-secret-0123456789";

describe("secrets across a full run", () => {
  it("never leak into logs or later answers, and are hashed or sealed at rest", async () => {
    const env = {
      CHAMICORE_DATA_DIR: dir,
      CHAMICORE_LISTEN: `127.0.0.1:${await freePort()}`,
      CHAMICORE_LOG_LEVEL: "debug",
      CHAMICORE_BOOTSTRAP_CLIENT_ID: "ops",
      CHAMICORE_BOOTSTRAP_CLIENT_SECRET: BOOT_SECRET,
    };
    const srv = await serve(env);
    const secrets: string[] = [BOOT_SECRET];
    const answers: string[] = [];
    const call = async (
      method: string,
      path: string,
      init: { body?: unknown; headers?: Record<string, string> } = {},
    ) => {
      const res = await fetch(srv.url + path, {
        method,
        headers: {
          ...(init.body !== undefined ? { "Content-Type": "application/json" } : {}),
          ...init.headers,
        },
        body:
          init.body === undefined
            ? undefined
            : typeof init.body === "string"
              ? init.body
              : JSON.stringify(init.body),
      });
      const text = await res.text();
      answers.push(text);
      return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
    };
    const token = async (id: string, secret: string) => {
      const r = await call("POST", "/auth/v1/token", {
        body: "grant_type=client_credentials",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Authorization: `Basic ${btoa(`${id}:${secret}`)}`,
        },
      });
      expect(r.status, r.text).toBe(200);
      answers.pop(); // the token endpoint's answer is where a token is handed out
      secrets.push(r.json.access_token);
      return r.json.access_token as string;
    };

    const admin = await token("ops", BOOT_SECRET);
    const bearer = { Authorization: `Bearer ${admin}` };
    const sa = await call("POST", "/auth/v1/service-accounts", {
      headers: bearer,
      body: { id: "robot", roles: ["operator"] },
    });
    expect(sa.status).toBe(201);
    const robotSecret = sa.json.spec.clientSecret as string;
    secrets.push(robotSecret);
    answers.pop(); // the creation answer is the one place the secret may appear
    await token("robot", robotSecret);
    const wrongTry = "definitely-not-the-secret-42";
    secrets.push(wrongTry);
    expect(
      (
        await call("POST", "/auth/v1/token", {
          body: `grant_type=client_credentials&client_id=robot&client_secret=${wrongTry}`,
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
        })
      ).status,
    ).toBe(401);

    const bmcSecret = "bmc-secret-do-not-print";
    secrets.push(bmcSecret);
    const cred = await call("POST", "/auth/v1/credentials", {
      headers: bearer,
      body: { id: "bmc", name: "BMCs", type: "redfish", username: "root", secret: bmcSecret, tags: {} },
    });
    expect(cred.status, cred.text).toBe(201);
    const read = await call("GET", "/auth/v1/credentials/bmc", { headers: bearer });
    expect(read.json.spec.secret).toBe(bmcSecret);
    answers.pop(); // revealed on purpose to read:credentials

    const reset = await call("POST", "/auth/v1/service-accounts/robot/secret", { headers: bearer });
    secrets.push(reset.json.spec.clientSecret);
    answers.pop();
    expect((await call("POST", "/auth/v1/keys/rotate", { headers: bearer })).status).toBe(200);
    await call("GET", "/auth/v1/service-accounts", { headers: bearer });
    await call("GET", "/auth/v1/service-accounts/robot", { headers: bearer });
    await call("GET", "/auth/v1/credentials", { headers: bearer });
    // A bad token is refused without being echoed.
    await call("GET", "/hsm/v2/State/Components", { headers: { Authorization: `Bearer ${admin}x` } });
    srv.child.kill("SIGTERM");
    expect((await srv.exited).code).toBe(0);

    // Restart with the same bootstrap variables: nothing changes; with a new secret, the old one stops working.
    const again = await serve(env);
    expect(again.output()).toContain('"changed":false');
    again.child.kill("SIGTERM");
    await again.exited;
    const newSecret = "a-new-bootstrap-secret-9876";
    secrets.push(newSecret);
    const changed = await serve({ ...env, CHAMICORE_BOOTSTRAP_CLIENT_SECRET: newSecret });
    const tokenWith = (secret: string) =>
      fetch(`${changed.url}/auth/v1/token`, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Authorization: `Basic ${btoa(`ops:${secret}`)}`,
        },
        body: "grant_type=client_credentials",
      });
    expect((await tokenWith(BOOT_SECRET)).status).toBe(401);
    expect((await tokenWith(newSecret)).status).toBe(200);
    changed.child.kill("SIGTERM");
    await changed.exited;

    // Rotation from the shell, on the stopped server's database.
    const rotate = run(["auth", "rotate-keys", "--revoke-previous"], { CHAMICORE_DATA_DIR: dir });
    expect((await rotate.exited).code, rotate.output()).toBe(0);
    expect(rotate.output()).toMatch(/new signing key \S+; 1 key\(s\) published/);

    // What is at rest: private keys sealed, secrets hashed or sealed.
    const masterKeyText = readFileSync(join(dir, "master.key"), "utf8").trim();
    secrets.push(masterKeyText);
    const db = await openDatabase({ dataDir: dir });
    try {
      const key = await importMasterKey(masterKeyText);
      const keys = await db.db.select().from(signingKeys);
      expect(keys.length).toBeGreaterThanOrEqual(2);
      for (const k of keys) {
        expect(k.sealedPrivateJwk).toMatch(/^v1\./);
        const jwk = JSON.parse(await unseal(key, k.sealedPrivateJwk, `signing-key:${k.kid}`)) as {
          d: string;
        };
        secrets.push(jwk.d);
        expect(JSON.stringify(k.publicJwk)).not.toContain(jwk.d);
      }
      const [c] = await db.db.select().from(credentials);
      expect(c!.sealedSecret).not.toContain(bmcSecret);
      for (const a of await db.db.select().from(serviceAccounts))
        expect(a.secretHash).toMatch(/^pbkdf2-sha256\$600000\$/);
    } finally {
      await db.close();
    }

    const logs = [srv.output(), again.output(), changed.output(), rotate.output()].join("\n");
    // The logs did record the work (so the search below is not vacuous).
    for (const line of [
      "token issued",
      "service account created",
      "credential stored",
      "credential secret read",
      "signing key rotated",
      "token refused",
    ])
      expect(logs).toContain(line);
    const leaks = secrets.flatMap((s) => [
      ...(logs.includes(s) ? [`log contains ${s.slice(0, 6)}…`] : []),
      ...answers.filter((a) => a.includes(s)).map(() => `an answer contains ${s.slice(0, 6)}…`),
    ]);
    expect(leaks).toEqual([]);
    expect(logs).not.toMatch(/pbkdf2-sha256|sealed|"d":/);
  });
});
