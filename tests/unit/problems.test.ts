import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ComponentCreateSchema } from "../../functions/inventory/schemas";
import { fieldPath, zodToProblem } from "../../shared/http/errors";
import { ApiError } from "../../shared/problem";

const Iface = z.strictObject({
  macAddress: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/),
  description: z.string().optional(),
});
const Body = z.strictObject({
  name: z.string(),
  nid: z.number().int().min(0).optional(),
  role: z.enum(["Compute", "Service"]).optional(),
  interfaces: z.array(Iface).optional(),
});

/** The problem for `input` against `schema`, as the validation hook would build it. */
function problemFor(schema: z.ZodType, input: unknown, target = "json", prefix?: string): ApiError {
  const r = schema.safeParse(input);
  if (r.success) throw new Error(`expected ${JSON.stringify(input)} to fail`);
  return zodToProblem(r.error, target, prefix, input);
}

describe("fieldPath", () => {
  it("renders zod paths as dotted names with [index]", () => {
    expect(fieldPath([])).toBe("");
    expect(fieldPath(["name"])).toBe("name");
    expect(fieldPath(["interfaces", 0, "macAddress"])).toBe("interfaces[0].macAddress");
    expect(fieldPath(["a", 1, 2, "b", "c"])).toBe("a[1][2].b.c");
    expect(fieldPath([3, "id"])).toBe("[3].id");
  });
});

describe("zodToProblem: structural problems are 400", () => {
  it("names an unknown top-level key as an unknown field", () => {
    const e = problemFor(Body, { name: "n1", colour: "red" });
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(400);
    expect(e.kind).toBe("bad-request");
    expect(e.message).toBe("The request body does not have the expected structure");
    expect(e.errors).toEqual([{ field: "colour", message: "unknown field" }]);
  });

  it("names each unknown key of a nested object with its full path", () => {
    const e = problemFor(Body, {
      name: "n1",
      interfaces: [{ macAddress: "aa:bb:cc:dd:ee:ff", mac: "x", ip: "y" }],
    });
    expect(e.status).toBe(400);
    expect(e.errors).toEqual([
      { field: "interfaces[0].mac", message: "unknown field" },
      { field: "interfaces[0].ip", message: "unknown field" },
    ]);
  });

  it("treats a wrong JSON type (string for number) as 400", () => {
    const e = problemFor(Body, { name: "n1", nid: "7" });
    expect(e.status).toBe(400);
    expect(e.errors).toHaveLength(1);
    expect(e.errors?.[0]?.field).toBe("nid");
    expect(e.errors?.[0]?.message).toMatch(/expected number/);
  });

  it("treats null for a non-nullable field as a wrong type (400), not a missing one", () => {
    const e = problemFor(Body, { name: null });
    expect(e.status).toBe(400);
    expect(e.errors?.[0]?.message).not.toBe("is required");
  });

  it("is 400 when one structural problem comes with rule violations", () => {
    const e = problemFor(Body, { name: "n1", role: "Boss", extra: 1 });
    expect(e.status).toBe(400);
    expect(e.errors?.map((f) => f.field).sort()).toEqual(["extra", "role"]);
  });

  it("uses the target when the whole input has the wrong type", () => {
    const e = problemFor(Body, "not an object");
    expect(e.status).toBe(400);
    expect(e.errors?.[0]?.field).toBe("json");
  });
});

describe("zodToProblem: rule violations are 422", () => {
  it("reports a bad enum value", () => {
    const e = problemFor(Body, { name: "n1", role: "Boss" });
    expect(e.status).toBe(422);
    expect(e.kind).toBe("validation");
    expect(e.message).toBe("The request body failed validation");
    expect(e.errors).toHaveLength(1);
    expect(e.errors?.[0]?.field).toBe("role");
    expect(e.errors?.[0]?.message).toContain("Compute");
  });

  it("reports a regex violation at its nested path", () => {
    const e = problemFor(Body, {
      name: "n1",
      interfaces: [{ macAddress: "aa:bb:cc:dd:ee:ff" }, { macAddress: "zz" }],
    });
    expect(e.status).toBe(422);
    expect(e.errors?.map((f) => f.field)).toEqual(["interfaces[1].macAddress"]);
  });

  it("reports a range violation", () => {
    expect(problemFor(Body, { name: "n1", nid: -1 }).status).toBe(422);
  });

  it("says a missing required field 'is required'", () => {
    const e = problemFor(Body, {});
    expect(e.status).toBe(422);
    expect(e.errors).toEqual([{ field: "name", message: "is required" }]);
  });

  it("says a missing nested field 'is required' at its path", () => {
    const e = problemFor(Body, { name: "n1", interfaces: [{}] });
    expect(e.status).toBe(422);
    expect(e.errors).toEqual([{ field: "interfaces[0].macAddress", message: "is required" }]);
  });
});

describe("zodToProblem: wording and prefixes", () => {
  it("names query parameters and other targets in the detail", () => {
    const Q = z.strictObject({ limit: z.string().regex(/^\d+$/) });
    expect(problemFor(Q, { limit: "x" }, "query").message).toBe("The query parameters failed validation");
    expect(problemFor(Q, { limit: "x" }, "param").message).toBe("The param failed validation");
  });

  it("puts a prefix before every field", () => {
    const e = problemFor(Body, { name: "n1", interfaces: [{ macAddress: "zz" }] }, "json", "components[3].");
    expect(e.errors?.[0]?.field).toBe("components[3].interfaces[0].macAddress");
  });

  it("works with the real component schema", () => {
    const e = problemFor(ComponentCreateSchema, {
      type: "Node",
      interfaces: [{ macAddress: "not-a-mac" }],
    });
    expect(e.status).toBe(422);
    expect(e.errors).toEqual([
      {
        field: "interfaces[0].macAddress",
        message: "must be a MAC address as aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff or aabbccddeeff",
      },
    ]);
  });
});

// zod 4 reports a non-string sent to an enum as `invalid_value` and a value missing from a union
// as `invalid_union`; zodToProblem looks at the request value itself to classify them.
describe("zodToProblem: enum and union edge cases", () => {
  it("treats a number sent to an enum field as a wrong JSON type (400)", () => {
    const e = problemFor(Body, { name: "n1", role: 5 });
    expect(e.status).toBe(400);
  });

  it("says a missing union-typed field (ipAddress) 'is required'", () => {
    const e = problemFor(ComponentCreateSchema, {
      type: "Node",
      interfaces: [{ macAddress: "aa:bb:cc:dd:ee:ff", ipAddresses: [{}] }],
    });
    expect(e.errors).toEqual([{ field: "interfaces[0].ipAddresses[0].ipAddress", message: "is required" }]);
  });
});

describe("zodToProblem: repeated query parameters", () => {
  const Query = z.object({ mac: z.string().optional(), limit: z.string().optional() });

  it("says which parameter may appear only once (400)", () => {
    const e = problemFor(Query, { mac: ["a", "b"] }, "query");
    expect(e.status).toBe(400);
    expect(e.message).toBe("The query parameter mac may appear only once");
    expect(e.errors).toEqual([{ field: "mac", message: "may appear only once" }]);
  });

  it("names every repeated one", () => {
    expect(problemFor(Query, { mac: ["a", "b"], limit: ["1", "2"] }, "query").message).toBe(
      "The query parameters mac, limit may appear only once",
    );
  });

  it("keeps the structural wording for an array in a JSON body", () => {
    expect(problemFor(Body, { name: ["a", "b"] }).message).toBe(
      "The request body does not have the expected structure",
    );
  });
});
