/**
 * `GET`/`HEAD /boot/v1/ipxe/{file}`: the iPXE binaries the edge serves over
 * TFTP, over HTTP too (UEFI HTTP boot, and iPXE chaining to another build).
 * Edge-only: the control plane has no iPXE directory and does not answer it.
 * Same directory and confinement as TFTP (ipxe-dir.ts); a name that is not
 * served, missing or refused, is a 404 problem+json. The body is read
 * from disk as it is sent, from a file-backed Blob (`openAsBlob`), with its
 * Content-Length: on Bun the Blob itself (Bun sends it with sendfile, while
 * a ReadableStream of several chunks goes out chunked whatever the header
 * says); on Node its stream (@hono/node-server would read a Blob whole into
 * memory first). The ETag is size and mtime.
 */
import { openAsBlob } from "node:fs";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../functions/env";
import { fileBody } from "../../shared/http/file-body";
import { ApiError } from "../../shared/problem";
import { FileRefused, type IpxeDir, type OpenedFile } from "./ipxe-dir";

const IPXE_HTTP_PATH = "/boot/v1/ipxe";

/** Registers the route for the runtime serving it; without a directory it answers 404 saying so. */
export function registerIpxeFiles(
  app: OpenAPIHono<AppEnv>,
  dir: IpxeDir | undefined,
  runtime: "node" | "bun",
) {
  app.get(`${IPXE_HTTP_PATH}/:file{.+}`, async (c) => {
    const name = c.req.param("file");
    if (!dir)
      throw new ApiError(
        "not-found",
        "This edge serves no iPXE binaries: set CHAMICORE_EDGE_IPXE_DIR (Debian's /usr/lib/ipxe is absent)",
      );
    let file: OpenedFile;
    try {
      file = await dir.open(name);
    } catch (e) {
      if (e instanceof FileRefused)
        throw new ApiError("not-found", e.reason === "access" ? e.message : `No iPXE binary '${name}'`);
      throw e;
    }
    // The checks were made on this handle; the Blob opens the same resolved path again.
    await file.handle.close();
    const etag = `"${file.size.toString(16)}-${Math.trunc(file.mtimeMs).toString(16)}"`;
    const headers = {
      "Content-Type": "application/octet-stream",
      "Content-Length": String(file.size),
      ETag: etag,
    };
    if (c.req.header("If-None-Match") === etag) return c.body(null, 304, { ETag: etag });
    // Hono answers HEAD with the GET handler's headers and drops the body: none to open then.
    if (c.req.method === "HEAD") return c.body(null, 200, headers);
    // Hono's body types leave Blob out; Bun's Response takes it.
    return c.body(fileBody(await openAsBlob(file.path), runtime) as ReadableStream, 200, headers);
  });
}
