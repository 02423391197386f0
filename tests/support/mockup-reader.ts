/**
 * A RedfishReader over a DMTF mockup folder: `/redfish/v1/<path>` is the
 * file `<mockup>/<path>/index.json`. `doctor` changes or breaks answers,
 * for what real BMCs do and the mockups do not (a 404, a malformed MAC).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { RedfishReader } from "../../functions/redfish/reader";

/** The project's copy when it is there, else the shared one. */
export const MOCKUPS_DIR = [
  join(import.meta.dirname, "../fixtures/redfish-mockups"),
  "/work/shared/redfish-mockups",
].find((d) => existsSync(join(d, "public-rackmount1", "index.json")))!;

/** Per path: an Error to throw, or a change to the document. */
export type Doctor = Record<string, Error | ((doc: Record<string, unknown>) => unknown)>;

export class MockupReader implements RedfishReader {
  /** Paths asked for, in order. */
  readonly requests: string[] = [];

  constructor(
    readonly dir: string,
    private readonly doctor: Doctor = {},
  ) {}

  static of(mockup: string, doctor?: Doctor) {
    return new MockupReader(join(MOCKUPS_DIR, mockup), doctor);
  }

  async get<T = unknown>(path: string): Promise<T> {
    this.requests.push(path);
    const clean = new URL(path, "https://bmc").pathname.replace(/\/+$/, "");
    if (!/^\/redfish\/v1(\/|$)/.test(clean) || clean.split("/").includes(".."))
      throw new Error(`400 Bad Request: ${path}`);
    const fix = this.doctor[clean];
    if (fix instanceof Error) throw fix;
    const rel = decodeURIComponent(clean.slice("/redfish/v1".length));
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(await readFile(join(this.dir, rel, "index.json"), "utf8"));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`404 Not Found: ${clean}`);
      throw e;
    }
    return (fix ? fix(doc) : doc) as T;
  }
}
