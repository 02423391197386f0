import { describe, expect, it } from "vitest";
import { jsonTextErrors, MAX_JSON_DEPTH, queryTextErrors, unstorable } from "../../shared/http/well-formed";

describe("unstorable", () => {
  it.each([
    ["NUL", "a\u0000b", /NUL/],
    ["a lone high surrogate", "a\ud800b", /surrogate/],
    ["a lone high surrogate at the end", "a\udbff", /surrogate/],
    ["a lone low surrogate", "\udc00x", /surrogate/],
    ["two surrogates in the wrong order", "\udc00\ud800", /surrogate/],
  ])("finds %s", (_what, s, reason) => {
    expect(unstorable(s)).toMatch(reason);
  });

  it.each(["", "plain", "émoji 😀 (a surrogate pair)", "\u0001\u001f control characters", "\uFFFD"])(
    "lets %j through",
    (s) => {
      expect(unstorable(s)).toBeUndefined();
    },
  );
});

describe("jsonTextErrors", () => {
  it("names every bad value and key with its path", () => {
    const doc = JSON.parse(
      '{"a":"ok","b":["x","\\u0000"],"c":{"d\\ud800":1,"e":{"f":"\\udfff"}},"g":[{"h":"\\u0000"}]}',
    );
    const { text, depth } = jsonTextErrors(doc);
    expect(depth).toEqual([]);
    expect(text.map((e) => e.field).sort()).toEqual(["b[1]", "c.d\uFFFD", "c.e.f", "g[0].h"]);
    expect(text.find((e) => e.field === "c.d\uFFFD")?.message).toMatch(/^the key .*surrogate/);
    expect(text.find((e) => e.field === "b[1]")?.message).toMatch(/NUL/);
  });

  it("names a bad top-level string as the body", () => {
    expect(jsonTextErrors("\u0000").text).toEqual([{ field: "body", message: expect.any(String) }]);
  });

  it("stops at nesting deeper than the limit, without recursion", () => {
    const deep = JSON.parse(`${"[".repeat(200_000)}${"]".repeat(200_000)}`);
    const { depth, text } = jsonTextErrors(deep);
    expect(text).toEqual([]);
    expect(depth).toHaveLength(1);
    expect(depth[0]!.field).toBe("[0]".repeat(MAX_JSON_DEPTH));
    expect(
      jsonTextErrors(JSON.parse(`${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}`)).depth,
    ).toEqual([]);
  });

  it("reports at most the given number of errors", () => {
    expect(jsonTextErrors(Array(100).fill("\u0000"), 5).text).toHaveLength(5);
  });
});

describe("queryTextErrors", () => {
  it("names a parameter whose value or name holds NUL", () => {
    expect(queryTextErrors(new URLSearchParams("a=1&b=%00&c%00=2"))).toEqual([
      { field: "b", message: expect.stringMatching(/NUL/) },
      { field: "c\uFFFD", message: expect.stringMatching(/NUL/) },
    ]);
  });

  it("finds nothing in invalid UTF-8, which decodes to U+FFFD", () => {
    expect(queryTextErrors(new URLSearchParams("a=%ED%A0%80"))).toEqual([]);
  });
});
