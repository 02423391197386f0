/**
 * The typed client's types are generated from the OpenAPI document that the
 * routes' zod schemas produce; this fails when a route or schema changed and
 * `npm run gen:client` was not run, so the CLI and the tests never compile
 * against a stale copy of the API.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CLIENT_TYPES, clientTypes } from "../../scripts/gen-client";

describe("shared/client/api.gen.ts", () => {
  it("matches the OpenAPI document the routes produce (npm run gen:client)", async () => {
    expect(await clientTypes()).toBe(readFileSync(CLIENT_TYPES, "utf8"));
  });
});
