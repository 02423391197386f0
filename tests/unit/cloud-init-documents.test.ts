/**
 * user-data and vendor-data validation on write: a header cloud-init
 * recognises, and for #cloud-config a YAML mapping (errors name the line).
 */
import { describe, expect, it } from "vitest";
import {
  checkDocument,
  cloudConfigOf,
  documentProblem,
  kindOf,
  renderCloudConfig,
} from "../../functions/cloud-init/documents";
import { ApiError } from "../../shared/problem";

describe("kindOf", () => {
  it.each([
    ["#cloud-config\npackages: [vim]\n", "cloud-config"],
    ["#cloud-config   \r\nruncmd: []\n", "cloud-config"],
    ["#cloud-config-archive\n- type: text/cloud-config\n", "cloud-config-archive"],
    ["#!/bin/bash\necho hi\n", "script"],
    ["#include\nhttp://example.com/a\n", "include"],
    ["#include-once\nhttp://example.com/a\n", "include"],
    ["#cloud-boothook\n#!/bin/sh\n", "boothook"],
    ["#part-handler\ndef list_types(): pass\n", "part-handler"],
    ["## template: jinja\n#cloud-config\nhostname: {{ v1.local_hostname }}\n", "jinja"],
    ['Content-Type: multipart/mixed; boundary="===="\nMIME-Version: 1.0\n', "mime"],
    ["MIME-Version: 1.0\nContent-Type: multipart/mixed\n", "mime"],
  ])("%j is %s", (text, kind) => {
    expect(kindOf(text)).toBe(kind);
  });

  it.each(["", "cloud-config\n", " #cloud-config\n", "#cloud-config:\n", "#Cloud-Config\n", "---\n"])(
    "%j is not recognised",
    (text) => {
      expect(kindOf(text)).toBeUndefined();
    },
  );
});

describe("documentProblem", () => {
  it("accepts what cloud-init accepts", () => {
    for (const ok of [
      "#cloud-config\n",
      "#cloud-config\n{}\n",
      "#cloud-config\npackage_upgrade: yes\nwrite_files:\n  - path: /etc/motd\n    content: hi\n",
      "#cloud-config\nbase: &b {a: 1}\nother:\n  <<: *b\n  c: 2\n",
      "#!/bin/sh\nexit 0\n",
      "#cloud-config-archive\n- type: text/cloud-config\n  content: 'packages: [vim]'\n",
      "## template: jinja\n#!/bin/sh\necho {{ v1.instance_id }}\n",
      'Content-Type: multipart/mixed; boundary="b"\nMIME-Version: 1.0\n\n--b\n--b--\n',
    ])
      expect(documentProblem(ok), ok).toBeUndefined();
  });

  it("names the YAML error and its line", () => {
    expect(documentProblem("#cloud-config\npackages:\n  - vim\npackages: [htop]\n")).toBe(
      "is not valid YAML: line 4, column 1: Map keys must be unique",
    );
    expect(documentProblem("#cloud-config\nruncmd:\n  - [ls, -l\nfoo: 1\n")).toMatch(
      /^is not valid YAML: line \d+, column \d+: /,
    );
    expect(documentProblem("#cloud-config\nruncmd: *missing\n")).toMatch(/^is not valid YAML: .*alias/i);
  });

  it("wants a mapping after #cloud-config and a list after #cloud-config-archive", () => {
    expect(documentProblem("#cloud-config\n- vim\n")).toMatch(/must be a YAML mapping/);
    expect(documentProblem("#cloud-config\njust a string\n")).toMatch(/must be a YAML mapping/);
    expect(documentProblem("#cloud-config-archive\na: 1\n")).toMatch(/must be a YAML list/);
  });

  it("refuses unknown headers, a bare jinja header and MIME without MIME-Version", () => {
    expect(documentProblem("packages: [vim]\n")).toBe(
      "must start with a cloud-init header such as #cloud-config or #! (line 1 is 'packages: [vim]')",
    );
    expect(documentProblem("")).toMatch(/must start with a cloud-init header/);
    expect(documentProblem("## template: jinja\npackages: []\n")).toMatch(/followed on line 2/);
    expect(documentProblem("Content-Type: multipart/mixed\n\n--b--\n")).toMatch(/MIME-Version/);
  });

  it("keeps billion-laughs documents small", () => {
    const lol = [
      "#cloud-config",
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
      "",
    ].join("\n");
    expect(documentProblem(lol)).toMatch(/is not valid YAML: .*alias/i);
  });
});

describe("checkDocument", () => {
  it("throws a 422 naming the field", () => {
    try {
      checkDocument("vendorData", "#cloud-config\n- a\n");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ApiError);
      const err = e as ApiError;
      expect(err.status).toBe(422);
      expect(err.errors).toEqual([{ field: "vendorData", message: expect.stringMatching(/YAML mapping/) }]);
    }
  });

  it("lets null and undefined through", () => {
    expect(() => checkDocument("userData", null)).not.toThrow();
    expect(() => checkDocument("userData", undefined)).not.toThrow();
  });
});

describe("YAML 1.1 as PyYAML reads it", () => {
  it("reads yes/on as booleans, 0644 as octal, but y and n as strings", () => {
    expect(cloudConfigOf("#cloud-config\na: yes\nb: on\nc: 0644\nd: y\ne: n\nf: '0644'\n")).toEqual({
      a: true,
      b: true,
      c: 420,
      d: "y",
      e: "n",
      f: "0644",
    });
  });

  it("writes strings that would read back as something else quoted", () => {
    expect(renderCloudConfig({ a: "yes", b: "0644", c: "on", d: "y", e: "12", f: "null", g: "plain" })).toBe(
      '#cloud-config\na: "yes"\nb: "0644"\nc: "on"\nd: y\ne: "12"\nf: "null"\ng: plain\n',
    );
  });
});
