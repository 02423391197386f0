/**
 * The `chamicore` CLI as an operator meets it, run as a subprocess against a
 * real `chamicore serve`: every command's help renders with examples; a
 * wrong flag is one line and exit code 2; completion scripts for bash and
 * zsh; logging in with client credentials (flags, stdin, or prompts on a
 * terminal that do not echo the secret) and with an external IdP's token;
 * tokens cached 0600 and renewed when expired; whoami/token/logout;
 * contexts; environment overrides; and the exit codes of failures.
 */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type CliHome, cliHomes, runChamicore, startTestControl, type TestControl } from "../support/cli";
import { type Idp, startIdp } from "../support/idp";

const AUDIENCE = "chamicore-cli-test";
let control: TestControl;
let idp: Idp;
const homes = cliHomes();
const home = homes.home;

beforeAll(async () => {
  idp = await startIdp("idp");
  control = await startTestControl({
    CHAMICORE_TRUSTED_ISSUERS: JSON.stringify([
      {
        issuer: idp.issuer,
        jwksUri: idp.jwksUri,
        audience: AUDIENCE,
        roleMap: { "hpc-users": ["viewer"] },
        subjectPrefix: "idp:",
      },
    ]),
  });
});

afterAll(async () => {
  homes.cleanup();
  await control?.stop();
  await idp?.close();
});

const login = (h: CliHome, context?: string) =>
  h.run(
    [
      "auth",
      "login",
      "--endpoint",
      control.url,
      "--client-id",
      "ops",
      "--client-secret-stdin",
      ...(context ? ["--context", context] : []),
    ],
    { input: control.admin.secret },
  );

describe("help", () => {
  /** Every command path with its help page, from the Commands sections, recursively (siblings at once). */
  async function commandTree(): Promise<Map<string, string>> {
    const pages = new Map<string, string>();
    // At most four CLI processes at a time: the machine has two cores.
    let running = 0;
    const waiting: (() => void)[] = [];
    const slot = async () => {
      while (running >= 4) await new Promise<void>((r) => waiting.push(r));
      running++;
    };
    const release = () => {
      running--;
      waiting.shift()?.();
    };
    const visit = async (path: string[]): Promise<void> => {
      await slot();
      const r = await runChamicore([...path, "--help"]).finally(release);
      expect(r.code, `${path.join(" ")} --help: ${r.stderr}`).toBe(0);
      pages.set(path.join(" "), r.stdout);
      const commands = r.stdout.split("\nCommands:\n")[1]?.split("\n\n")[0] ?? "";
      const children = [...commands.matchAll(/^ {2}chamicore ((?:[\w-]+ )*[\w-]+)/gm)]
        .map((m) => m[1]!.split(" "))
        .filter((c) => c.length === path.length + 1 && c.at(-1) !== "completion");
      await Promise.all(children.map(visit));
    };
    await visit([]);
    return pages;
  }

  it("renders for chamicore and every subcommand, each with examples", { timeout: 180_000 }, async () => {
    const pages = await commandTree();
    // The servers, the session, and the operator groups are all there.
    expect([...pages.keys()]).toEqual(
      expect.arrayContaining([
        "serve",
        "migrate",
        "edge",
        "edge kea-config",
        "auth login",
        "auth whoami",
        "context use",
      ]),
    );
    const without = [...pages]
      .filter(([, page]) => !page.includes("\nExamples:\n"))
      .map(([name]) => name || "(top)");
    expect(without).toEqual([]);
  });

  it("a wrong flag or command is one line on stderr and exit code 2", async () => {
    for (const args of [
      ["context", "list", "--bogus"],
      ["auth", "whoami", "--nope", "1"],
      ["frobnicate"],
      ["auth"],
      ["edge", "kea-config", "--bogus"],
    ]) {
      const r = await runChamicore(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.stdout).toBe("");
    }
    expect((await runChamicore(["edge", "kea-config", "--bogus"])).stderr).toContain("bogus");
  });

  it("prints completion scripts for bash and zsh", async () => {
    const bash = await runChamicore(["completion"], {
      env: { SHELL: "/bin/bash", PATH: process.env.PATH ?? "" },
    });
    expect(bash.code).toBe(0);
    expect(bash.stdout).toContain(
      "complete -o bashdefault -o default -F _chamicore_yargs_completions chamicore",
    );
    const zsh = await runChamicore(["completion"], {
      env: { SHELL: "/usr/bin/zsh", PATH: process.env.PATH ?? "" },
    });
    expect(zsh.stdout).toContain("compdef _chamicore_yargs_completions chamicore");
    // The script asks the CLI itself; the CLI answers with its commands.
    const words = await runChamicore(["--get-yargs-completions", "chamicore", "au"]);
    expect(words.stdout.split("\n")).toContain("auth");
  });
});

describe("logging in", () => {
  it("with client credentials on stdin; the token and secret are kept 0600 and work", async () => {
    const h = home();
    const r = await login(h);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Logged in to .* as ops \(context default\)/);
    const dir = join(h.env.XDG_CONFIG_HOME!, "chamicore");
    for (const f of ["config.yaml", "tokens.yaml"])
      expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const who = await h.run(["auth", "whoami", "-o", "json"]);
    expect(who.code).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({ subject: "ops", roles: ["admin"], endpoint: control.url });
    const yaml = parse((await h.run(["auth", "whoami", "-o", "yaml"])).stdout);
    expect(yaml.subject).toBe("ops");
    const token = (await h.run(["auth", "token"])).stdout.trim();
    const res = await fetch(`${control.url}/auth/v1/roles`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
  });

  it("asks on a terminal, without echoing the secret, and shows a table there", async () => {
    const h = home();
    const r = await h.run(["auth", "login", "--endpoint", control.url], {
      tty: true,
      answers: [
        ["Client id:", "ops\n"],
        ["Client secret:", `${control.admin.secret}\n`],
      ],
    });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain("Logged in to");
    expect(r.stdout).not.toContain(control.admin.secret);
    const table = await h.run(["auth", "whoami"], { tty: true });
    const [head, row] = table.stdout.trim().split("\n");
    expect(head).toMatch(/^SUBJECT\s+ROLES\s+EXPIRES IN\s+ENDPOINT$/);
    // A fresh one-hour token: just under the hour, or the hour itself when checked within its first half second.
    expect(row).toMatch(/^ops\s+admin\s+(59 min|1 h 0 min)/);
  });

  it("renews an expired token by itself with the stored credentials", async () => {
    const h = home();
    await login(h);
    const file = join(h.env.XDG_CONFIG_HOME!, "chamicore", "tokens.yaml");
    const before = parse(readFileSync(file, "utf8")).default;
    writeFileSync(
      file,
      readFileSync(file, "utf8").replace(String(before.expires), String(Math.floor(Date.now() / 1000) - 5)),
    );
    const who = await h.run(["auth", "whoami", "-o", "json"]);
    expect(who.code, who.stderr).toBe(0);
    const after = parse(readFileSync(file, "utf8")).default;
    expect(after.token).not.toBe(before.token);
    expect(after.expires).toBeGreaterThan(Date.now() / 1000 + 3000);
  });

  it("exchanges an external IdP's token, which cannot renew by itself", async () => {
    const h = home();
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({
      iss: idp.issuer,
      aud: AUDIENCE,
      sub: "ada",
      iat: now,
      exp: now + 300,
      groups: ["hpc-users"],
    })
      .setProtectedHeader({ alg: "RS256", kid: idp.kid, typ: "JWT" })
      .sign(idp.privateKey);
    const r = await h.run(
      ["auth", "login", "--endpoint", control.url, "--context", "sso", "--subject-token-file", "-"],
      {
        input: jwt,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const who = JSON.parse((await h.run(["auth", "whoami", "-o", "json"])).stdout);
    expect(who).toMatchObject({ subject: "idp:ada", roles: ["viewer"], context: "sso" });
    const file = join(h.env.XDG_CONFIG_HOME!, "chamicore", "tokens.yaml");
    const t = parse(readFileSync(file, "utf8"));
    writeFileSync(file, readFileSync(file, "utf8").replace(String(t.sso.expires), "1"));
    const expired = await h.run(["auth", "whoami"]);
    expect(expired.code).toBe(3);
    expect(expired.stderr).toContain(
      "cannot be renewed without client credentials: chamicore auth login --context sso",
    );
  });

  it("refuses a wrong secret and a forged IdP token with exit code 3, and keeps nothing", async () => {
    const h = home();
    const r = await h.run(
      ["auth", "login", "--endpoint", control.url, "--client-id", "ops", "--client-secret-stdin"],
      {
        input: "not-the-secret",
      },
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/login refused \(HTTP 401\)/);
    expect((await h.run(["context", "list", "-o", "json"])).stdout.trim()).toBe("[]");
    const forged = await h.run(["auth", "login", "--endpoint", control.url, "--subject-token-file", "-"], {
      input: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJldmUifQ.",
    });
    expect(forged.code).toBe(3);
  });
});

describe("sessions", () => {
  it("switches contexts, logs out, and says when it is not logged in", async () => {
    const h = home();
    await login(h, "lab");
    await login(h, "prod");
    const list = JSON.parse((await h.run(["context", "list", "-o", "json"])).stdout);
    expect(list.map((c: { name: string; current: boolean }) => [c.name, c.current])).toEqual([
      ["lab", false],
      ["prod", true],
    ]);
    expect((await h.run(["context", "use", "lab"])).code).toBe(0);
    expect(JSON.parse((await h.run(["auth", "whoami", "-o", "json"])).stdout).context).toBe("lab");
    expect((await h.run(["context", "use", "nowhere"])).code).toBe(2);

    expect((await h.run(["auth", "logout"])).code).toBe(0);
    const out = await h.run(["auth", "whoami"]);
    expect(out.code).toBe(3);
    expect(out.stderr).toContain("chamicore auth login --context lab");
    // The other context is untouched.
    expect((await h.run(["auth", "whoami", "--context", "prod", "-o", "json"])).code).toBe(0);
    expect((await h.run(["context", "delete", "prod"])).code).toBe(0);
    expect((await h.run(["context", "list", "-o", "json"])).stdout).not.toContain("prod");
  });

  it("takes CHAMICORE_ENDPOINT and CHAMICORE_TOKEN over the config file", async () => {
    const h = home();
    const r = await h.run(["auth", "whoami", "-o", "json"], {
      env: { CHAMICORE_ENDPOINT: control.url, CHAMICORE_TOKEN: control.adminToken },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).subject).toBe("ops");
    const none = await h.run(["auth", "whoami"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("chamicore auth login --endpoint");
  });

  it("exit codes: 3 for a refused token, 1 for an unreachable API", async () => {
    const h = home();
    const bad = await h.run(["auth", "token"], {
      env: { CHAMICORE_ENDPOINT: control.url, CHAMICORE_TOKEN: "x.y.z" },
    });
    expect(bad.code).toBe(0); // printing a given token needs no server
    const refused = await h.run(["context", "list"], { env: { CHAMICORE_TOKEN: "x.y.z" } });
    expect(refused.code).toBe(0);
    const r = await h.run(["auth", "roles", "list"], {
      env: { CHAMICORE_ENDPOINT: control.url, CHAMICORE_TOKEN: "x.y.z" },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^Error: HTTP 401 /);
    const down = await h.run(["auth", "roles", "list"], {
      env: { CHAMICORE_ENDPOINT: "http://127.0.0.1:9", CHAMICORE_TOKEN: control.adminToken },
    });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("cannot reach the control API");
  });
});
