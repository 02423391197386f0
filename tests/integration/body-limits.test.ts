/**
 * Bodies over the limit, on Node and on the Worker in workerd: a 413
 * problem, never a reset connection, whether the client said the length
 * (Content-Length) or not (chunked), and the same client's next request is
 * answered as usual. A chunked body used to be left locked and unread by the
 * limit, which workerd answered by resetting the connection. A body a route
 * refused without reading it is read before the answer goes out, so the
 * connection it came on stays usable.
 */
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodePgliteTarget, type Target, workerTarget } from "../support/targets";

const C = "/hsm/v2/State/Components";
const big = JSON.stringify({ id: "x3000c0", description: "x".repeat(1_500_000) });

/**
 * Sends a request (head, then its body in two halves `pauseMs` apart) and
 * then `second` on one connection, and gives back the status of every answer
 * that came before both were answered, the server closed, or 5 s passed.
 */
async function oneConnection(url: string, head: string, body: Buffer, pauseMs: number, second: string) {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let got = "";
  const statuses = () => [...got.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  const done = new Promise((r) => {
    socket.on("data", (d) => {
      got += d.toString("latin1");
      if (statuses().length >= 2) r(undefined);
    });
    socket.on("close", r);
  });
  socket.on("error", () => {});
  await new Promise((r) => socket.once("connect", r));
  socket.write(head);
  socket.write(body.subarray(0, body.length / 2));
  await sleep(pauseMs);
  socket.write(body.subarray(body.length / 2));
  socket.write(second);
  await Promise.race([done, sleep(5000)]);
  socket.destroy();
  return statuses();
}

/** `text` as a stream of 64 KiB chunks: fetch sends it chunked, with no Content-Length. */
function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.subarray(at, at + 65536));
      at += 65536;
    },
  });
}

for (const [name, start] of [
  ["node+pglite", () => nodePgliteTarget()],
  ["workerd+postgres", () => workerTarget()],
] as const) {
  describe(`body limits on ${name}`, () => {
    let t: Target;
    beforeAll(async () => {
      t = await start();
    });
    afterAll(() => t?.stop());

    const post = (body: string | ReadableStream<Uint8Array>) =>
      t.fetch(C, {
        method: "POST",
        headers: { Authorization: `Bearer ${t.adminToken}`, "Content-Type": "application/json" },
        body,
        duplex: "half",
      } as RequestInit);

    it("answers 413 to a body over the limit, with or without its length, five times running", async () => {
      for (let i = 0; i < 5; i++) {
        for (const body of [big, chunked(big)]) {
          const res = await post(body);
          expect(res.status).toBe(413);
          expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
          expect(((await res.json()) as { detail: string }).detail).toContain(
            "larger than this endpoint accepts",
          );
        }
      }
      // A chunked body under the limit is read as usual.
      const ok = await post(chunked(JSON.stringify({ id: "x3000c0s0b0n0", nid: 5 })));
      expect(ok.status, await ok.text()).toBe(201);
    });

    it("reads the rest of a body it refused before answering, so the connection goes on serving", async () => {
      // An upload refused before its body is read (here: no such artifact),
      // whose second half arrives after a pause longer than the server's
      // old half-second drain, then a second request on the same connection.
      const url = t.url;
      if (!url) throw new Error("target has no loopback url");
      const body = Buffer.alloc(4 * 1024 * 1024, 7);
      const host = new URL(url).host;
      const head =
        `PUT /boot/v1/artifacts/no-such-artifact/content HTTP/1.1\r\nHost: ${host}\r\n` +
        `Authorization: Bearer ${t.adminToken}\r\nContent-Type: application/octet-stream\r\n` +
        `Content-Length: ${body.length}\r\n\r\n`;
      const second = `GET /readiness HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
      expect(await oneConnection(url, head, body, 1200, second)).toEqual([404, 200]);
    });
  });
}
