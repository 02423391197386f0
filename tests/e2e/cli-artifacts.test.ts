/**
 * `chamicore bss artifacts …` as an operator runs it: the real bin in a
 * child process against a real control plane. A generated file is
 * uploaded (progress on a terminal, one final line in a pipe), listed,
 * named by boot parameters, and the boot script sends the node to a URL
 * that serves it byte for byte; uploading it again changes nothing,
 * uploading other bytes under its name is refused naming both digests, an
 * interrupted upload is finished by running it again, and deletion is
 * refused while boot parameters name the artifact. A file over 64 MiB goes
 * in parts; through a hop that fails part uploads, a 502 is retried, an
 * answer retrying cannot change abandons the upload, and so does Ctrl-C.
 * `add` registers by URL.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiClient, createClient, unwrap } from "../../shared/client";
import {
  type CliHome,
  cliAsserts,
  cliHome,
  loginAsAdmin,
  startTestControl,
  type TestControl,
} from "../support/cli";
import { BIN } from "../support/process";

let control: TestControl;
let home: CliHome;
let api: ApiClient;

const NODE = "x1000c0s0b0n0";
const MAC = "a4:bf:01:38:ee:65";
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

beforeAll(async () => {
  control = await startTestControl();
  api = createClient({ endpoint: control.url, token: () => control.adminToken });
  await unwrap(
    api.POST("/hsm/v2/State/Components", {
      body: { id: NODE, role: "Compute", nid: 1, interfaces: [{ macAddress: MAC }] },
    }),
  );
  const login = await loginAsAdmin(home, control);
  expect(login.code, login.stderr).toBe(0);
});

afterAll(async () => {
  await control?.stop();
  home?.cleanup();
});

home = cliHome();
const { cli, ok, json, table, fails, helpWithExamples } = cliAsserts(home);

/** A file of random bytes in the home; returns its path. */
const file = (name: string, bytes: Uint8Array) => {
  const path = join(home.dir, name);
  writeFileSync(path, bytes);
  return path;
};

/**
 * A real HTTP hop in front of the control plane, as a load balancer is: it
 * passes every request on, but a test decides what becomes of part uploads
 * (`PUT …/uploads/{id}/parts/{n}`). `seen` lists every request it got.
 */
interface Hop {
  url: string;
  seen: string[];
  /** Decides a part upload: answer it here, hold it, or `pass()` it on. */
  onPart?: (req: IncomingMessage, res: ServerResponse, pass: () => void) => void;
  close(): Promise<void>;
}

async function startHop(target: string): Promise<Hop> {
  const to = new URL(target);
  const pass = (req: IncomingMessage, res: ServerResponse) => {
    const up = httpRequest(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  };
  const hop: Hop = {
    url: "",
    seen: [],
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // Kept-alive and held connections would keep it open.
        server.closeAllConnections();
      }),
  };
  const server: Server = createServer((req, res) => {
    hop.seen.push(`${req.method} ${req.url}`);
    req.on("error", () => {});
    res.on("error", () => {});
    if (hop.onPart && req.method === "PUT" && /\/uploads\/[^/]+\/parts\/\d+$/.test(req.url ?? ""))
      hop.onPart(req, res, () => pass(req, res));
    else pass(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  hop.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return hop;
}

describe("chamicore bss artifacts", () => {
  const kernel = randomBytes(5 * 1024 * 1024 + 123);
  const initrd = randomBytes(300 * 1024);

  it("uploads a file that boot parameters then name, and nodes fetch it byte for byte", async () => {
    const kernelFile = file("vmlinuz-6.1.0", kernel);

    // On a terminal: progress rewritten in place, then the final line and a table.
    const onTty = await ok(
      ["bss", "artifacts", "upload", kernelFile, "--kind", "kernel", "--label", "site=rack1"],
      {
        tty: true,
      },
    );
    expect(onTty.stdout).toMatch(
      /\ruploading vmlinuz-6\.1\.0: 5\.0 MiB \/ 5\.0 MiB \(100%\) [\d.]+ (KiB|MiB|GiB)\/s/,
    );
    expect(onTty.stdout).toMatch(
      /^uploaded vmlinuz-6\.1\.0: 5\.0 MiB in [\d.]+ s \(.*\/s\), sha256 [0-9a-f]{64}$/m,
    );

    // In a pipe: JSON on stdout, and only the final line on stderr.
    const piped = await ok([
      "bss",
      "artifacts",
      "upload",
      file("initrd.img", initrd),
      "--name",
      "initrd-6.1.0",
      "--kind",
      "initrd",
    ]);
    expect(JSON.parse(piped.stdout).spec).toEqual({
      name: "initrd-6.1.0",
      sha256: sha(initrd),
      size: initrd.length,
      kind: "initrd",
      labels: {},
      url: null,
      stored: true,
    });
    expect(piped.stderr).not.toContain("\r");
    expect(piped.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(
        /^uploaded initrd-6\.1\.0: 300\.0 KiB in [\d.]+ s \(.*\/s\), sha256 [0-9a-f]{64}$/,
      ),
    ]);

    const t = await table(["bss", "artifacts", "list"]);
    expect(t.header).toEqual(["NAME", "KIND", "SIZE", "SHA256", "SOURCE", "LABELS"]);
    expect(t.rows).toEqual([
      ["initrd-6.1.0", "initrd", "300.0 KiB", sha(initrd).slice(0, 12), "uploaded"],
      ["vmlinuz-6.1.0", "kernel", "5.0 MiB", sha(kernel).slice(0, 12), "uploaded", "site=rack1"],
    ]);
    const kernels = await json(["bss", "artifacts", "list", "--kind", "kernel"]);
    expect(kernels.items.map((i: { spec: { name: string } }) => i.spec.name)).toEqual(["vmlinuz-6.1.0"]);

    // Boot parameters name the kernel by name and the initrd by digest.
    const params = await json([
      "bss",
      "bootparams",
      "create",
      "--component",
      NODE,
      "--kernel-artifact",
      "vmlinuz-6.1.0",
      "--initrd-artifact",
      sha(initrd),
      "--params",
      "console=ttyS0",
    ]);
    expect(params.spec).toMatchObject({
      kernelUri: "",
      kernel: { artifact: "vmlinuz-6.1.0", sha256: sha(kernel), size: kernel.length, url: null },
      initrd: { artifact: "initrd-6.1.0", sha256: sha(initrd), size: initrd.length, url: null },
    });
    const bp = params.metadata.id as string;
    expect((await table(["bss", "bootparams", "list", "--component", NODE])).rows).toEqual([
      [bp, `component=${NODE}`, "artifact:vmlinuz-6.1.0", "artifact:initrd-6.1.0", "console=ttyS0"],
    ]);

    // The script sends the node to the artifact's content URL, which serves the file as uploaded.
    const script = (await ok(["bss", "script", "--mac", MAC])).stdout;
    const kernelUrl = `${control.url}/boot/v1/artifacts/${sha(kernel)}/vmlinuz-6.1.0`;
    expect(script).toContain(`kernel --name kernel ${kernelUrl} initrd=initrd console=ttyS0`);
    expect(script).toContain(
      `initrd --name initrd ${control.url}/boot/v1/artifacts/${sha(initrd)}/initrd-6.1.0`,
    );
    const served = await fetch(kernelUrl);
    expect(served.status).toBe(200);
    expect(Buffer.from(await served.arrayBuffer()).equals(kernel)).toBe(true);

    // Again: nothing to do, said plainly.
    const again = await ok(["bss", "artifacts", "upload", kernelFile, "--kind", "kernel", "-o", "json"]);
    expect(again.stderr).toContain(
      `vmlinuz-6.1.0 is already uploaded with this sha256 (${sha(kernel)}): nothing to do`,
    );
    expect(again.stderr).not.toMatch(/^uploaded/m);
    expect(JSON.parse(again.stdout).spec.stored).toBe(true);

    // Other bytes under the same name: refused, naming both digests.
    const rebuilt = randomBytes(4096);
    writeFileSync(join(home.dir, "rebuilt"), rebuilt);
    const clash = await fails(1, [
      "bss",
      "artifacts",
      "upload",
      join(home.dir, "rebuilt"),
      "--name",
      "vmlinuz-6.1.0",
      "--kind",
      "kernel",
    ]);
    expect(clash).toContain(sha(kernel));
    expect(clash).toContain(sha(rebuilt));

    // Not deleted while the params name it; the refusal says which.
    const refused = await fails(1, ["bss", "artifacts", "delete", "vmlinuz-6.1.0"]);
    expect(refused).toMatch(/HTTP 409/);
    expect(refused).toContain(bp);
    expect((await json(["bss", "artifacts", "get", "vmlinuz-6.1.0"])).spec.stored).toBe(true);

    // On update, a URI replaces the artifact and an artifact the URI.
    const byUri = await json([
      "bss",
      "bootparams",
      "update",
      bp,
      "--kernel",
      "http://images.example/vmlinuz",
    ]);
    expect(byUri.spec).toMatchObject({ kernelUri: "http://images.example/vmlinuz", kernel: null });
    const back = await json(["bss", "bootparams", "update", bp, "--kernel-artifact", sha(kernel)]);
    expect(back.spec).toMatchObject({ kernelUri: "", kernel: { artifact: "vmlinuz-6.1.0" } });
    expect(await fails(1, ["bss", "artifacts", "delete", "vmlinuz-6.1.0"])).toContain(bp);

    await ok(["bss", "bootparams", "delete", bp]);
    const deleted = await ok(["bss", "artifacts", "delete", "vmlinuz-6.1.0", sha(initrd)]);
    expect(deleted.stderr).toContain("deleted vmlinuz-6.1.0");
    expect(await fails(1, ["bss", "artifacts", "get", "vmlinuz-6.1.0"])).toMatch(/HTTP 404/);
    expect((await fetch(kernelUrl)).status).toBe(404);
  });

  it("finishes an upload that was registered but never got its bytes", async () => {
    const bytes = randomBytes(64 * 1024);
    // Where an interrupted upload stops: registered, no content.
    await unwrap(
      api.POST("/boot/v1/artifacts", {
        body: { name: "ipxe.efi", sha256: sha(bytes), size: bytes.length, kind: "ipxe" },
      }),
    );
    const pending = await table(["bss", "artifacts", "list", "--kind", "ipxe"]);
    expect(pending.rows).toEqual([
      ["ipxe.efi", "ipxe", "64.0 KiB", sha(bytes).slice(0, 12), "pending upload"],
    ]);

    const resumed = await ok(["bss", "artifacts", "upload", file("ipxe.efi", bytes), "--kind", "ipxe"]);
    expect(resumed.stderr).toContain("ipxe.efi is registered without its content: uploading it");
    expect(resumed.stderr).toMatch(/^uploaded ipxe\.efi: 64\.0 KiB/m);
    expect(JSON.parse(resumed.stdout).spec.stored).toBe(true);
    const served = await fetch(`${control.url}/boot/v1/artifacts/${sha(bytes)}/ipxe.efi`);
    expect(Buffer.from(await served.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("sends a file over 64 MiB in parts, on its own, and nodes fetch it byte for byte", async () => {
    const image = randomBytes(64 * 1024 * 1024 + 1024 * 1024 + 5);
    const path = file("rocky9.img", image);

    const r = await ok(["bss", "artifacts", "upload", path, "--kind", "image"], { tty: true });
    expect(r.stdout).toMatch(/\ruploading rocky9\.img \(2 parts\): 65\.0 MiB \/ 65\.0 MiB \(100%\)/);
    expect(r.stdout).toContain("checking rocky9.img on the control plane");
    expect(r.stdout).toMatch(
      /^uploaded rocky9\.img: 65\.0 MiB in [\d.]+ s \(.*\/s\), 2 parts of 64\.0 MiB, sha256 [0-9a-f]{64}$/m,
    );
    expect((await json(["bss", "artifacts", "get", "rocky9.img"])).spec).toMatchObject({
      sha256: sha(image),
      size: image.length,
      stored: true,
    });
    const served = await fetch(`${control.url}/boot/v1/artifacts/${sha(image)}/rocky9.img`);
    expect(served.status).toBe(200);
    expect(Buffer.from(await served.arrayBuffer()).equals(image)).toBe(true);
    await ok(["bss", "artifacts", "delete", "rocky9.img"]);
  });

  describe("through a hop that fails part uploads", () => {
    let hop: Hop;
    beforeAll(async () => {
      hop = await startHop(control.url);
    });
    afterAll(() => hop?.close());
    const via = () => ["--endpoint", hop.url];

    it("--multipart sends even a small file in parts, again after a 502", async () => {
      const bytes = randomBytes(3 * 1024 * 1024 + 11);
      let failed = 0;
      hop.onPart = (_req, res, pass) => {
        if (failed++ > 0) return pass();
        res.writeHead(502, "Bad Gateway", { "Content-Type": "text/plain" });
        res.end("upstream went away");
      };
      const r = await ok([
        "bss",
        "artifacts",
        "upload",
        file("initrd-retry.img", bytes),
        "--kind",
        "initrd",
        "--multipart",
        ...via(),
      ]);
      expect(r.stderr.trim().split("\n")).toEqual([
        "part 1 of 1: HTTP 502 Bad Gateway; sending it again in 0.5 s (1/3)",
        expect.stringMatching(/^uploaded initrd-retry\.img: 3\.0 MiB in .*, 1 part of 64\.0 MiB, sha256 /),
      ]);
      expect(JSON.parse(r.stdout).spec.stored).toBe(true);
      const served = await fetch(`${control.url}/boot/v1/artifacts/${sha(bytes)}/initrd-retry.img`);
      expect(Buffer.from(await served.arrayBuffer()).equals(bytes)).toBe(true);
    });

    it("abandons the upload on an answer retrying cannot change, and a second run finishes it", async () => {
      const bytes = randomBytes(2 * 1024 * 1024);
      // What a Worker's edge answers to a body over its limit.
      hop.onPart = (_req, res) => {
        res.writeHead(413, "Payload Too Large", { "Content-Type": "text/plain" });
        res.end("too large");
      };
      hop.seen.length = 0;
      const path = file("initrd-413.img", bytes);
      const args = ["bss", "artifacts", "upload", path, "--kind", "initrd", "--multipart"];
      const refused = await cli([...args, ...via()]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/HTTP 413/);
      expect(refused.stderr).not.toMatch(/sending it again/);
      const id = /abandoned upload ([0-9a-f]+) of initrd-413\.img: the parts sent are dropped/.exec(
        refused.stderr,
      )?.[1];
      expect(id, refused.stderr).toBeDefined();
      expect(hop.seen).toContain(`DELETE /boot/v1/artifacts/initrd-413.img/uploads/${id}`);
      expect(refused.stderr).toContain("initrd-413.img stays registered without its content");

      // In one request this time, which the hop lets through.
      hop.seen.length = 0;
      const resumed = await ok([...args.slice(0, -1), "--no-multipart", "-o", "json", ...via()]);
      expect(resumed.stderr).toContain("registered without its content: uploading it");
      expect(JSON.parse(resumed.stdout).spec.stored).toBe(true);
      expect(hop.seen.filter((s) => s.startsWith("PUT"))).toEqual([
        "PUT /boot/v1/artifacts/initrd-413.img/content",
      ]);
      const served = await fetch(`${control.url}/boot/v1/artifacts/${sha(bytes)}/initrd-413.img`);
      expect(Buffer.from(await served.arrayBuffer()).equals(bytes)).toBe(true);
    });

    it("Ctrl-C during a part abandons the upload before exiting", async () => {
      const bytes = randomBytes(4 * 1024 * 1024);
      let arrived: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      let partUrl = "";
      // Held: read a little, then nothing more, as over a slow link.
      hop.onPart = (req) => {
        partUrl = req.url ?? "";
        req.once("data", () => {
          req.pause();
          arrived();
        });
      };
      const child = spawn(
        process.execPath,
        [
          BIN,
          "bss",
          "artifacts",
          "upload",
          file("disk-ctrl-c.img", bytes),
          "--kind",
          "image",
          "--multipart",
          ...via(),
        ],
        { env: home.env, stdio: ["ignore", "pipe", "pipe"] },
      );
      let stderr = "";
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      await held;
      child.kill("SIGINT");
      const code = await exited;

      expect(code, stderr).toBe(1);
      const id = /\/uploads\/([0-9a-f]+)\/parts\/1$/.exec(partUrl)?.[1];
      expect(stderr).toContain(`abandoned upload ${id} of disk-ctrl-c.img: the parts sent are dropped`);
      expect(stderr).toMatch(/Error: interrupted \(SIGINT\)/);
      expect(hop.seen).toContain(`DELETE /boot/v1/artifacts/disk-ctrl-c.img/uploads/${id}`);
      // The control plane no longer knows that upload; the artifact waits for its content.
      const late = await fetch(`${control.url}${partUrl}`, {
        method: "PUT",
        headers: {
          Authorization: `Bearer ${control.adminToken}`,
          "Content-Type": "application/octet-stream",
        },
        body: bytes,
      });
      expect(late.status).toBe(404);
      expect((await json(["bss", "artifacts", "get", "disk-ctrl-c.img"])).spec.stored).toBe(false);
    });
  });

  it("adds an artifact by URL, and gets it by its sha256", async () => {
    const digest = sha(Buffer.from("an image that lives elsewhere"));
    const url = "http://images.example/rocky9.img";
    const missing = await fails(2, [
      "bss",
      "artifacts",
      "add",
      "rocky9.img",
      "--kind",
      "image",
      "--url",
      url,
    ]);
    expect(missing).toContain("--sha256 and --size are required");
    expect(missing).toContain("does not download");

    const added = await json([
      "bss",
      "artifacts",
      "add",
      "rocky9.img",
      "--kind",
      "image",
      "--url",
      url,
      "--sha256",
      digest,
      "--size",
      "123456789",
      "--label",
      "os=rocky9",
    ]);
    expect(added.spec).toEqual({
      name: "rocky9.img",
      sha256: digest,
      size: 123456789,
      kind: "image",
      labels: { os: "rocky9" },
      url,
      stored: false,
    });
    expect((await json(["bss", "artifacts", "get", digest])).spec.name).toBe("rocky9.img");
    expect((await table(["bss", "artifacts", "get", digest])).rows).toEqual([
      ["rocky9.img", "image", "117.7 MiB", digest.slice(0, 12), "url", "os=rocky9"],
    ]);
    // Nodes asking the control plane for it are sent where it lives.
    const there = await fetch(`${control.url}/boot/v1/artifacts/${digest}/rocky9.img`, {
      redirect: "manual",
    });
    expect(there.status).toBe(302);
    expect(there.headers.get("location")).toBe(url);

    const taken = await fails(1, [
      "bss",
      "artifacts",
      "add",
      "rocky9.img",
      "--kind",
      "image",
      "--url",
      url,
      "--sha256",
      "0".repeat(64),
      "--size",
      "1",
    ]);
    expect(taken).toMatch(/HTTP 409.*rocky9\.img/);
  });

  it("reports usage errors and the API's refusals with their exit codes", async () => {
    expect(
      await fails(2, ["bss", "artifacts", "upload", join(home.dir, "absent"), "--kind", "kernel"]),
    ).toMatch(/cannot read .*absent/);
    expect(
      await fails(2, [
        "bss",
        "artifacts",
        "upload",
        file("bad name.img", randomBytes(10)),
        "--kind",
        "image",
      ]),
    ).toMatch(/'bad name\.img' \(the file's name\) cannot name an artifact.*give --name/);
    expect(
      await fails(2, ["bss", "artifacts", "upload", file("x", randomBytes(10)), "--kind", "disk"]),
    ).toMatch(/Invalid values/);
    expect(
      await fails(2, [
        "bss",
        "artifacts",
        "upload",
        file("y", randomBytes(10)),
        "--kind",
        "image",
        "--label",
        "oops",
      ]),
    ).toMatch(/--label takes key=value/);
    expect(
      await fails(2, ["bss", "artifacts", "add", "z", "--kind", "image", "--sha256", "ab", "--size", "1"]),
    ).toMatch(/--url is required/);
    const invalid = await fails(1, [
      "bss",
      "artifacts",
      "add",
      "z",
      "--kind",
      "image",
      "--url",
      "ftp://x/z",
      "--sha256",
      "ab",
      "--size",
      "1",
    ]);
    expect(invalid).toMatch(/HTTP 422 Validation failed/);
    expect(invalid).toMatch(/^\s+sha256: /m);
    expect(invalid).toMatch(/^\s+url: /m);
    expect(
      await fails(2, [
        "bss",
        "bootparams",
        "create",
        "--role",
        "Compute",
        "--kernel",
        "http://x/k",
        "--kernel-artifact",
        "k",
      ]),
    ).toMatch(/mutually exclusive/);
    const unknown = await fails(1, [
      "bss",
      "bootparams",
      "create",
      "--role",
      "Compute",
      "--kernel-artifact",
      "nope",
    ]);
    expect(unknown).toMatch(/HTTP 422/);
    expect(unknown).toMatch(/^\s+kernel: artifact 'nope' does not exist/m);
  });

  it("--help renders with examples for every subcommand", async () => {
    const commands = [
      ["bss", "artifacts"],
      ...["list", "get", "delete", "add", "upload"].map((v) => ["bss", "artifacts", v]),
    ];
    await helpWithExamples(commands);
  });
});
