import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import {
  boolean,
  DEFAULT_LIMIT,
  type ListSpec,
  listQuerySchema,
  MAX_LIMIT,
  oneOf,
  parseListQuery,
  wholeNumber,
} from "../../shared/list-query";
import { ApiError } from "../../shared/problem";

const spec: ListSpec = {
  filters: {
    type: { description: "Type", parse: oneOf(["Node", "NodeBMC", "Switch"]) },
    state: { description: "State" },
    parentId: { description: "Parent", aliases: ["parent_id"] },
    nid: { description: "NID", parse: wholeNumber },
    enabled: { description: "Enabled", parse: boolean },
  },
  sortable: ["id", "nid", "createdAt"],
  fields: ["id", "type", "nid", "state"],
  defaultSort: "id",
};

const parse = (qs: string, s: ListSpec = spec) => parseListQuery(new URLSearchParams(qs), s);

/** The ApiError that `parse(qs)` throws. */
function rejection(qs: string, s: ListSpec = spec): ApiError {
  try {
    parse(qs, s);
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error(`expected ?${qs} to be rejected`);
}

const fieldsOf = (e: ApiError) => (e.errors ?? []).map((f) => f.field);

describe("parseListQuery: defaults", () => {
  it("gives no filters, the default sort, limit 100, offset 0 and all fields", () => {
    expect(parse("")).toEqual({
      filters: {},
      sort: { field: "id", desc: false },
      limit: DEFAULT_LIMIT,
      offset: 0,
      fields: undefined,
    });
    expect(DEFAULT_LIMIT).toBe(100);
  });
});

describe("parseListQuery: filters", () => {
  it("ORs comma-separated values", () => {
    expect(parse("type=Node,Switch").filters).toEqual({ type: ["Node", "Switch"] });
  });

  it("trims and drops empty pieces", () => {
    expect(parse("type=Node, NodeBMC,,Switch,&state=Ready").filters).toEqual({
      type: ["Node", "NodeBMC", "Switch"],
      state: ["Ready"],
    });
  });

  it("refuses a repeated parameter with 400 naming it (the OpenAPI document gives each one value)", () => {
    for (const q of [
      "type=Node&type=NodeBMC",
      "parent_id=a&parent_id=b",
      "sort=id&sort=nid",
      "limit=1&limit=2",
    ]) {
      const e = rejection(q);
      expect(e.status).toBe(400);
      expect(e.errors?.[0]?.field).toBe(q.split("=")[0]);
      expect(e.errors?.[0]?.message).toMatch(/may appear only once/);
    }
  });

  it("accepts an alias under the canonical name, but not together with the canonical spelling", () => {
    expect(parse("parent_id=x1000c0s0b0").filters).toEqual({ parentId: ["x1000c0s0b0"] });
    expect(rejection("parentId=a1&parent_id=b2").errors).toEqual([
      { field: "parent_id", message: "is the same filter as parentId: give it once" },
    ]);
  });

  it("converts values with the filter's parser", () => {
    expect(parse("nid=1,20&enabled=false").filters).toEqual({ nid: [1, 20], enabled: [false] });
    expect(parse("enabled=true").filters).toEqual({ enabled: [true] });
  });

  it("refuses an unknown parameter with 400, naming it and the known filters", () => {
    const e = rejection("typo=Node");
    expect(e.status).toBe(400);
    expect(e.kind).toBe("bad-request");
    expect(e.errors).toHaveLength(1);
    expect(e.errors?.[0]?.field).toBe("typo");
    expect(e.errors?.[0]?.message).toContain("type, state, parentId, nid, enabled");
  });

  it("refuses a filter with no value", () => {
    const e = rejection("state=");
    expect(e.errors).toEqual([{ field: "state", message: "needs a value" }]);
    expect(fieldsOf(rejection("state=,,"))).toEqual(["state"]);
  });

  it("refuses a value outside an enum, quoting the value and the choices", () => {
    const e = rejection("type=Node,Nod");
    expect(e.status).toBe(400);
    expect(e.errors).toEqual([{ field: "type", message: "'Nod': must be one of Node, NodeBMC, Switch" }]);
  });

  it("names the spelling the client used for a bad aliased value", () => {
    const aliased: ListSpec = {
      ...spec,
      filters: { nid: { description: "NID", parse: wholeNumber, aliases: ["node_id"] } },
    };
    expect(parse("node_id=7", aliased).filters).toEqual({ nid: [7] });
    expect(rejection("node_id=x", aliased).errors).toEqual([
      { field: "node_id", message: "'x': must be a whole number up to 2147483647" },
    ]);
  });

  it.each(["-1", "1.5", "abc", "1e3", "+2", "2147483648", "99999999999999999999"])(
    "wholeNumber rejects nid=%s",
    (v) => {
      const e = rejection(`nid=${encodeURIComponent(v)}`);
      expect(e.errors?.[0]).toEqual({
        field: "nid",
        message: `'${v}': must be a whole number up to 2147483647`,
      });
    },
  );

  it.each(["yes", "1", "TRUE", "False"])("boolean rejects enabled=%s", (v) => {
    expect(rejection(`enabled=${v}`).errors?.[0]?.message).toBe(`'${v}': must be true or false`);
  });

  it("reports every problem at once", () => {
    expect(fieldsOf(rejection("typo=1&type=Bad&nid=x&sort=nope&limit=0&offset=-1&fields=secret"))).toEqual([
      "typo",
      "type",
      "nid",
      "sort",
      "limit",
      "offset",
      "fields",
    ]);
  });
});

describe("parseListQuery: sort", () => {
  it("sorts ascending by a field, descending with a - prefix", () => {
    expect(parse("sort=nid").sort).toEqual({ field: "nid", desc: false });
    expect(parse("sort=-createdAt").sort).toEqual({ field: "createdAt", desc: true });
  });

  it.each(["name", "-name", "", "-", "--id", "+id"])("refuses sort=%j", (v) => {
    const e = rejection(`sort=${encodeURIComponent(v)}`);
    expect(e.status).toBe(400);
    expect(e.errors).toEqual([
      { field: "sort", message: "can sort by id, nid, createdAt (prefix - for descending)" },
    ]);
  });
});

describe("parseListQuery: limit and offset", () => {
  it("accepts limits from 1 to 10000", () => {
    expect(parse("limit=1").limit).toBe(1);
    expect(parse(`limit=${MAX_LIMIT}`).limit).toBe(10_000);
  });

  it.each(["0", "10001", "abc", "", "-5", "2.5", "1e2"])("refuses limit=%j", (v) => {
    const e = rejection(`limit=${v}`);
    expect(e.errors).toEqual([{ field: "limit", message: "must be a whole number from 1 to 10000" }]);
  });

  it("accepts offset 0 and beyond", () => {
    expect(parse("offset=0").offset).toBe(0);
    expect(parse("offset=250").offset).toBe(250);
  });

  it.each(["-1", "x", "99999999999999999999"])("refuses offset=%j", (v) => {
    expect(fieldsOf(rejection(`offset=${v}`))).toEqual(["offset"]);
  });
});

describe("parseListQuery: fields", () => {
  it("returns the requested fields, trimmed", () => {
    expect(parse("fields=id, nid").fields).toEqual(["id", "nid"]);
  });

  it.each(["id,secret", "", ",", "ID"])("refuses fields=%j", (v) => {
    const e = rejection(`fields=${v}`);
    expect(e.errors).toEqual([{ field: "fields", message: "choose among id, type, nid, state" }]);
  });
});

describe("listQuerySchema", () => {
  it("documents exactly the parameters parseListQuery accepts", () => {
    const app = new OpenAPIHono();
    const route = createRoute({
      method: "get",
      path: "/things",
      request: { query: listQuerySchema(spec) },
      responses: { 200: { description: "ok" } },
    });
    app.openapi(route, (c) => c.body(null, 200));
    const doc = app.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "t", version: "1" } });
    const params = (doc.paths?.["/things"]?.get?.parameters ?? []) as {
      name: string;
      description?: string;
    }[];
    const byName = Object.fromEntries(params.map((p) => [p.name, p.description ?? ""]));
    expect(Object.keys(byName).sort()).toEqual(
      [...Object.keys(spec.filters), "sort", "limit", "offset", "fields"].sort(),
    );
    expect(byName.parentId).toContain("parent_id");
    expect(byName.sort).toContain(spec.sortable.join(", "));
    // Everything documented is accepted.
    expect(() =>
      parse("type=Node&state=On&parentId=x1&nid=1&enabled=true&sort=-nid&limit=5&offset=1&fields=id"),
    ).not.toThrow();
  });
});
