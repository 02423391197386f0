/**
 * Boot artifacts over HTTP on Node, on the embedded database and on
 * Postgres: registering by URL, uploading (streamed and verified: a wrong
 * size or digest is refused and nothing is kept), the public content route
 * with ranges and ETags, boot parameters that name artifacts (checked to
 * exist, shown resolved, sent back unchanged), the boot script's URLs, and
 * deletion refused while boot parameters still name one.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Answer,
  nodePgliteTarget,
  nodePostgresTarget,
  type Target,
  workerTarget,
} from "../support/targets";

const A = "/boot/v1/artifacts";
const P = "/boot/v1/bootparams";
/** Where the Worker target's requests are addressed, and so what its boot scripts name. */
const WORKER_ORIGIN = "http://control.test";
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function suite(name: string, start: () => Promise<Target>) {
  describe.sequential(`artifacts on ${name}`, () => {
    let t: Target;
    const kernel = randomBytes(3 * 1024 * 1024 + 17); // over the 1 MiB JSON body limit
    const initrd = randomBytes(4096);
    const remote = {
      name: "initrd-6.1",
      sha256: sha(initrd),
      size: initrd.length,
      kind: "initrd",
      url: "http://images.example/initrd-6.1.img",
    };

    /** Raw bytes to `path` (the admin's token); `init` replaces the body, e.g. with a stream. */
    const send = async (
      method: string,
      path: string,
      body: Uint8Array,
      headers: Record<string, string> = {},
      init: () => RequestInit = () => ({ body }),
    ) => {
      const res = await t.fetch(path, {
        method,
        headers: {
          Authorization: `Bearer ${t.adminToken}`,
          "Content-Type": "application/octet-stream",
          ...headers,
        },
        ...init(),
      });
      const text = await res.text();
      return { status: res.status, text, json: (text ? JSON.parse(text) : undefined) as Answer["json"] };
    };
    const upload = (
      artifact: string,
      body: Uint8Array,
      headers: Record<string, string> = {},
      init?: () => RequestInit,
    ) => send("PUT", `${A}/${artifact}/content`, body, headers, init);
    const content = (path: string, headers: Record<string, string> = {}, method = "GET") =>
      t.fetch(path, { method, headers });

    beforeAll(async () => {
      t = await start();
      await t.call("POST", "/hsm/v2/State/Components", {
        body: {
          id: "x1000c0s0b0n0",
          nid: 1,
          role: "Compute",
          interfaces: [{ macAddress: "02:00:00:00:00:01", ipAddresses: [{ ipAddress: "127.0.0.1" }] }],
        },
      });
    });
    afterAll(() => t?.stop());

    it("registers by URL, refuses a second artifact with the same name or digest, and finds it by either", async () => {
      const r = await t.call("POST", A, { body: remote });
      expect(r.status, r.text).toBe(201);
      expect(r.json.spec).toMatchObject({ ...remote, labels: {}, stored: false });
      expect((await t.call("POST", A, { body: remote })).status).toBe(409);
      const sameDigest = await t.call("POST", A, { body: { ...remote, name: "other" } });
      expect(sameDigest.status).toBe(409);
      expect(sameDigest.json.detail).toContain("initrd-6.1");
      expect((await t.call("GET", `${A}/${remote.sha256}`)).json.spec.name).toBe("initrd-6.1");
      const bad = await t.call("POST", A, { body: { ...remote, name: "x/y", sha256: "ABC" } });
      expect(bad.status).toBe(422);
      expect(bad.json.errors.map((e: { field: string }) => e.field).sort()).toEqual(["name", "sha256"]);
      // Nodes asking the control plane for it are sent to where it lives.
      const there = await content(`${A}/${remote.sha256}/initrd-6.1`);
      expect(there.status).toBe(302);
      expect(there.headers.get("location")).toBe(remote.url);
    });

    it("takes an upload only when it is exactly the registered bytes, and keeps nothing else", async () => {
      const meta = {
        name: "vmlinuz-6.1",
        sha256: sha(kernel),
        size: kernel.length,
        kind: "kernel",
        labels: { site: "rack1" },
      };
      expect((await t.call("POST", A, { body: meta })).status).toBe(201);
      // Not usable before its content is there.
      const early = await t.call("POST", P, {
        body: { role: "Compute", kernel: { artifact: "vmlinuz-6.1" } },
      });
      expect(early.status).toBe(422);
      expect(early.json.detail).toContain("no content yet");

      expect((await upload("vmlinuz-6.1", kernel, { "Content-Type": "application/json" })).status).toBe(415);
      const short = await upload("vmlinuz-6.1", kernel.subarray(1));
      expect(short.status).toBe(422);
      expect(short.json.detail).toMatch(/bytes/);
      const corrupt = Buffer.from(kernel);
      corrupt[1000] = corrupt[1000]! ^ 0xff;
      const wrong = await upload("vmlinuz-6.1", corrupt);
      expect(wrong.status).toBe(422);
      expect(wrong.json.detail).toContain("sha256");
      expect((await content(`${A}/${meta.sha256}/vmlinuz-6.1`)).status).toBe(404);
      expect((await t.call("GET", `${A}/vmlinuz-6.1`)).json.spec.stored).toBe(false);
      expect((await upload("initrd-6.1", initrd)).status).toBe(409); // registered by URL

      // Streamed without a Content-Length: the length is found out on the way.
      const streamed = (bytes: Uint8Array) =>
        upload("vmlinuz-6.1", new Uint8Array(0), {}, () => ({
          body: new ReadableStream({
            start(s) {
              for (let i = 0; i < bytes.length; i += 1 << 20) s.enqueue(bytes.subarray(i, i + (1 << 20)));
              s.close();
            },
          }),
          duplex: "half",
        }));
      const shortStream = await streamed(kernel.subarray(0, kernel.length - 1));
      expect(shortStream.status).toBe(422);
      expect(shortStream.json.detail).toContain(`not the registered ${kernel.length}`);
      const longStream = await streamed(Buffer.concat([kernel, Buffer.from("x")]));
      expect(longStream.status).toBe(422);
      expect(longStream.json.detail).toContain("longer than");
      expect((await content(`${A}/${meta.sha256}/vmlinuz-6.1`)).status).toBe(404);

      const ok = await upload("vmlinuz-6.1", kernel);
      expect(ok.status).toBe(200);
      expect(ok.json.spec.stored).toBe(true);
      // What edges ask for to stage their site's images.
      const names = async (q: string) =>
        (await t.call("GET", `${A}${q}`)).json.items.map((i: { spec: { name: string } }) => i.spec.name);
      expect(await names("?label=site=rack1")).toEqual(["vmlinuz-6.1"]);
      expect(await names("?label=site=rack2,site=rack1&kind=kernel")).toEqual(["vmlinuz-6.1"]);
      expect(await names("?label=site=rack2")).toEqual([]);
      expect((await t.call("GET", `${A}?label=site`)).status).toBe(400);
      // The same bytes again are harmless.
      expect((await upload("vmlinuz-6.1", kernel)).status).toBe(200);
    });

    it("serves the content whole, by range, with its digest as ETag", async () => {
      const path = `${A}/${sha(kernel)}/vmlinuz-6.1`;
      const whole = await content(path);
      expect(whole.status).toBe(200);
      expect(whole.headers.get("etag")).toBe(`"${sha(kernel)}"`);
      expect(whole.headers.get("accept-ranges")).toBe("bytes");
      expect(Buffer.from(await whole.arrayBuffer()).equals(kernel)).toBe(true);

      const part = await content(path, { Range: "bytes=1000000-1000099" });
      expect(part.status).toBe(206);
      expect(part.headers.get("content-range")).toBe(`bytes 1000000-1000099/${kernel.length}`);
      expect(Buffer.from(await part.arrayBuffer()).equals(kernel.subarray(1000000, 1000100))).toBe(true);
      const tail = await content(path, { Range: "bytes=-10" });
      expect(Buffer.from(await tail.arrayBuffer()).equals(kernel.subarray(kernel.length - 10))).toBe(true);
      const rest = await content(path, { Range: `bytes=${kernel.length - 5}-` });
      expect(Number(rest.headers.get("content-length"))).toBe(5);
      await rest.arrayBuffer();
      const past = await content(path, { Range: `bytes=${kernel.length}-` });
      expect(past.status).toBe(416);
      expect(past.headers.get("content-range")).toBe(`bytes */${kernel.length}`);
      const head = await content(path, {}, "HEAD");
      expect(head.status).toBe(200);
      expect(Number(head.headers.get("content-length"))).toBe(kernel.length);
      expect((await content(path, { "If-None-Match": `"${sha(kernel)}"` })).status).toBe(304);
      expect((await content(`${A}/${"0".repeat(64)}/nothing`)).status).toBe(404);
      // The node at the caller's address (this test's, 127.0.0.1) is seen fetching its artifacts.
      const seen = await t.call("GET", "/boot/v1/status?id=x1000c0s0b0n0");
      expect(seen.json.items, seen.text).toHaveLength(1);
      expect(seen.json.items[0].stage).toBe("artifacts");
    });

    it("lets boot parameters name artifacts, and the boot script fetch them", async () => {
      const both = await t.call("POST", P, {
        body: { role: "Compute", kernelUri: "http://x/vmlinuz", kernel: { artifact: "vmlinuz-6.1" } },
      });
      expect(both.status).toBe(422);
      const missing = await t.call("POST", P, { body: { role: "Compute", kernel: { artifact: "nope" } } });
      expect(missing.status).toBe(422);
      expect(missing.json.errors[0].field).toBe("kernel");

      const created = await t.call("POST", P, {
        body: {
          role: "Compute",
          kernel: { artifact: "vmlinuz-6.1" },
          initrd: { artifact: remote.sha256 },
          cmdline: "console=ttyS0",
        },
      });
      expect(created.status, created.text).toBe(201);
      const spec = created.json.spec;
      expect(spec.kernelUri).toBe("");
      expect(spec.kernel).toEqual({
        artifact: "vmlinuz-6.1",
        sha256: sha(kernel),
        size: kernel.length,
        url: null,
      });
      expect(spec.initrd).toEqual({
        artifact: "initrd-6.1",
        sha256: remote.sha256,
        size: remote.size,
        url: remote.url,
      });

      // What a GET shows can be sent back as it is.
      const { id: _, ...body } = spec;
      const put = await t.call("PUT", `${P}/${spec.id}`, {
        body: { ...body, componentId: undefined, isDefault: undefined },
        headers: { "If-Match": created.headers.get("etag")! },
      });
      expect(put.status, put.text).toBe(200);

      const script = await t.call("GET", "/boot/v1/bootscript?mac=02:00:00:00:00:01", { token: null });
      expect(script.status).toBe(200);
      expect(script.text).toContain(
        `kernel --name kernel ${t.name.startsWith("workerd") ? WORKER_ORIGIN : t.url}${A}/${sha(kernel)}/vmlinuz-6.1 initrd=initrd console=ttyS0`,
      );
      expect(script.text).toContain(`initrd --name initrd ${remote.url} ||`);

      // Deleting what boot parameters name is refused, naming them.
      const refused = await t.call("DELETE", `${A}/vmlinuz-6.1`);
      expect(refused.status).toBe(409);
      expect(refused.json.detail).toContain(spec.id);

      // Setting the kernel by URI lets the artifact go.
      const patched = await t.call("PATCH", `${P}/${spec.id}`, {
        body: { kernelUri: "http://images.example/vmlinuz" },
      });
      expect(patched.status, patched.text).toBe(200);
      expect(patched.json.spec.kernel).toBeNull();
      expect((await t.call("DELETE", `${A}/vmlinuz-6.1`)).status).toBe(204);
      expect((await content(`${A}/${sha(kernel)}/vmlinuz-6.1`)).status).toBe(404);
      expect((await t.call("GET", A)).json.items.map((i: { spec: { name: string } }) => i.spec.name)).toEqual(
        ["initrd-6.1"],
      );
    });

    it("takes content in parts, checks the whole at completion, and keeps nothing that does not match", async () => {
      const image = randomBytes(11 * 1024 * 1024 + 7);
      const meta = { name: "disk-image", sha256: sha(image), size: image.length, kind: "image" };
      expect((await t.call("POST", A, { body: meta })).status).toBe(201);
      const U = `${A}/disk-image/uploads`;
      const start = async () => {
        const r = await t.call("POST", U);
        expect(r.status, r.text).toBe(201);
        return r.json as { uploadId: string; partSize: number; parts: number };
      };
      const slice = (bytes: Uint8Array, partSize: number, n: number) =>
        bytes.subarray((n - 1) * partSize, n * partSize);
      /** Sends every part, the last first; their etags in order. */
      const sendAll = async (
        bytes: Uint8Array,
        up: { uploadId: string; partSize: number; parts: number },
      ) => {
        const etags: { partNumber: number; etag: string }[] = [];
        for (let n = up.parts; n >= 1; n--) {
          const r = await send("PUT", `${U}/${up.uploadId}/parts/${n}`, slice(bytes, up.partSize, n));
          expect(r.status, r.text).toBe(200);
          expect(r.json.partNumber).toBe(n);
          etags.unshift(r.json);
        }
        return etags;
      };

      // Same length, one byte wrong: each part is taken; the whole is refused at completion.
      const bad = await start();
      expect(bad.parts).toBe(Math.ceil(image.length / bad.partSize));
      const corrupt = Buffer.from(image);
      corrupt[image.length - 3] = corrupt[image.length - 3]! ^ 0xff;
      const badParts = await sendAll(corrupt, bad);
      const refused = await t.call("POST", `${U}/${bad.uploadId}/complete`, { body: { parts: badParts } });
      expect(refused.status, refused.text).toBe(422);
      expect(refused.json.detail).toContain("sha256");
      expect((await content(`${A}/${meta.sha256}/disk-image`)).status).toBe(404);
      expect((await t.call("GET", `${A}/disk-image`)).json.spec.stored).toBe(false);
      // That upload is over.
      expect(
        (await t.call("POST", `${U}/${bad.uploadId}/complete`, { body: { parts: badParts } })).status,
      ).toBe(404);

      const up = await start();
      const last = up.parts;
      const wrongLength = await send("PUT", `${U}/${up.uploadId}/parts/${last}`, image.subarray(0, 10));
      expect(wrongLength.status).toBe(422);
      expect(wrongLength.json.detail).toMatch(/bytes/);
      expect((await send("PUT", `${U}/${up.uploadId}/parts/${last + 1}`, image.subarray(0, 10))).status).toBe(
        422,
      );
      expect((await send("PUT", `${U}/${"f".repeat(32)}/parts/1`, slice(image, up.partSize, 1))).status).toBe(
        404,
      );
      const parts = await sendAll(image, up);
      const missing = await t.call("POST", `${U}/${up.uploadId}/complete`, {
        body: { parts: parts.slice(1) },
      });
      expect(missing.status).toBe(422);
      const forged = parts.map((p) => ({ ...p, etag: `${p.etag}0` }));
      expect((await t.call("POST", `${U}/${up.uploadId}/complete`, { body: { parts: forged } })).status).toBe(
        422,
      );
      const done = await t.call("POST", `${U}/${up.uploadId}/complete`, { body: { parts } });
      expect(done.status, done.text).toBe(200);
      expect(done.json.spec.stored).toBe(true);

      const path = `${A}/${meta.sha256}/disk-image`;
      const whole = await content(path);
      expect(whole.status).toBe(200);
      expect(Buffer.from(await whole.arrayBuffer()).equals(image)).toBe(true);
      // Across the boundary between two parts, where there are two.
      const at = Math.min(up.partSize, image.length - 100);
      const across = await content(path, { Range: `bytes=${at - 50}-${at + 49}` });
      expect(across.status).toBe(206);
      expect(Buffer.from(await across.arrayBuffer()).equals(image.subarray(at - 50, at + 50))).toBe(true);

      // An abandoned upload goes away.
      const dropped = await start();
      expect((await t.call("DELETE", `${U}/${dropped.uploadId}`)).status).toBe(204);
      expect(
        (await send("PUT", `${U}/${dropped.uploadId}/parts/1`, slice(image, up.partSize, 1))).status,
      ).toBe(404);

      expect((await t.call("DELETE", `${A}/disk-image`)).status).toBe(204);
      expect((await content(path)).status).toBe(404);
    });
  });
}

suite("node+pglite", () => nodePgliteTarget());
suite("node+postgres", () => nodePostgresTarget());
// Parts of R2's smallest size, so the 11 MiB image takes three.
suite("workerd+postgres (R2)", () => workerTarget({ CHAMICORE_ARTIFACT_PART_SIZE: String(5 * 1024 * 1024) }));

describe("artifacts on a Worker without an R2 bucket", () => {
  let t: Target;
  beforeAll(async () => {
    t = await workerTarget({}, { artifacts: false });
  });
  afterAll(() => t?.stop());

  it("registers by URL, but answers uploads 503 saying what to bind", async () => {
    const bytes = randomBytes(100);
    const meta = { name: "small", sha256: sha(bytes), size: bytes.length, kind: "initrd" };
    expect((await t.call("POST", A, { body: meta })).status).toBe(201);
    const put = await t.fetch(`${A}/small/content`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${t.adminToken}`, "Content-Type": "application/octet-stream" },
      body: bytes,
    });
    expect(put.status).toBe(503);
    expect(((await put.json()) as { detail: string }).detail).toContain("bind an R2 bucket as ARTIFACTS");
    expect((await t.call("POST", `${A}/small/uploads`)).status).toBe(503);
    const byUrl = await t.call("POST", A, {
      body: { ...meta, name: "remote", sha256: sha(randomBytes(8)), url: "http://images.example/x" },
    });
    expect(byUrl.status).toBe(201);
  });
});
