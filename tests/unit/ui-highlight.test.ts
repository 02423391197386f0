/**
 * The web UI's iPXE highlighter (control/ui/src/highlight.ts): it loses and
 * adds nothing (every golden boot script comes back whole from its tokens),
 * and it tells commands, options, labels, comments, variables and URLs
 * apart as the golden token file says (regenerate with UPDATE_GOLDEN=1 and
 * review the diff).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { highlightIpxe } from "../../control/ui/src/highlight";

const SCRIPTS = join(import.meta.dirname, "../golden/ipxe");
const GOLDEN = join(import.meta.dirname, "../golden/ui/mac-match.tokens");

describe("iPXE highlighting", () => {
  it.each(readdirSync(SCRIPTS).filter((f) => f.endsWith(".ipxe")))("keeps %s whole", (file) => {
    const script = readFileSync(join(SCRIPTS, file), "utf8");
    expect(
      highlightIpxe(script)
        .map((t) => t.text)
        .join(""),
    ).toBe(script);
  });

  it("colours a Chamicore script as the golden tokens say", () => {
    const tokens = highlightIpxe(readFileSync(join(SCRIPTS, "mac-match.ipxe"), "utf8"))
      .filter((t) => t.kind !== "text")
      .map((t) => `${t.kind}\t${t.text}`)
      .join("\n");
    if (process.env.UPDATE_GOLDEN === "1" || !existsSync(GOLDEN)) writeFileSync(GOLDEN, `${tokens}\n`);
    expect(`${tokens}\n`).toBe(readFileSync(GOLDEN, "utf8"));
  });

  it("takes a word as a command only where a command starts", () => {
    const kinds = (s: string) => highlightIpxe(s).filter((t) => t.kind !== "text");
    expect(kinds("echo boot the node || boot")).toEqual([
      { kind: "command", text: "echo" },
      { kind: "command", text: "boot" },
    ]);
    // An iPXE variable, not a JavaScript placeholder.
    const mac = "$" + "{net0/mac}";
    expect(kinds(`set x ${mac}`)).toEqual([
      { kind: "command", text: "set" },
      { kind: "variable", text: mac },
    ]);
  });
});
