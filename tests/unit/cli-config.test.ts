/**
 * The CLI's config and token files as a user edits them by hand: what is
 * read back, and which mistakes are refused with the field named and exit
 * code 2 before any command runs.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig, loadTokens, saveConfig, saveTokens } from "../../shared/node/cli/config";
import { CliError, EXIT } from "../../shared/node/cli/errors";

let dir: string;
let env: Record<string, string>;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "chamicore-cli-config-"));
  env = { CHAMICORE_CONFIG: join(dir, "config.yaml") };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function refusal(load: () => unknown): CliError {
  try {
    load();
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).code).toBe(EXIT.usage);
    return e as CliError;
  }
  throw new Error("expected the file to be refused");
}

describe("config.yaml", () => {
  it("is empty when absent, and reads back what was saved, 0600", () => {
    expect(loadConfig(env)).toEqual({ contexts: {} });
    const config = {
      "current-context": "site",
      output: "yaml" as const,
      contexts: {
        site: { endpoint: "https://chamicore.example.org", "client-id": "ops", "client-secret": "s3cret" },
        lab: { endpoint: "http://10.0.0.1:8080" },
      },
    };
    saveConfig(env, config);
    expect(loadConfig(env)).toEqual(config);
    expect(statSync(env.CHAMICORE_CONFIG!).mode & 0o777).toBe(0o600);
  });

  it("keeps only the fields it knows, and defaults contexts", () => {
    writeFileSync(env.CHAMICORE_CONFIG!, "current-context: a\ncolour: blue\n");
    expect(loadConfig(env)).toEqual({ "current-context": "a", contexts: {} });
    writeFileSync(env.CHAMICORE_CONFIG!, "contexts:\n  a:\n    endpoint: http://h:1\n    extra: 1\n");
    expect(loadConfig(env)).toEqual({ contexts: { a: { endpoint: "http://h:1" } } });
  });

  it("names every field that does not fit", () => {
    writeFileSync(
      env.CHAMICORE_CONFIG!,
      "output: xml\ncurrent-context: 3\ncontexts:\n  a:\n    endpoint: not a url\n    client-id: 7\n  b: []\n",
    );
    const e = refusal(() => loadConfig(env));
    expect(e.message).toContain(env.CHAMICORE_CONFIG);
    expect(e.message).toContain("output: expected one of table, json, yaml");
    expect(e.message).toContain("current-context: expected a string");
    expect(e.message).toContain("contexts.a.endpoint: expected a URL");
    expect(e.message).toContain("contexts.a.client-id: expected a string");
    expect(e.message).toContain("contexts.b: expected a map");
  });

  it("refuses a file that is not a map, or not YAML", () => {
    writeFileSync(env.CHAMICORE_CONFIG!, "- a\n- b\n");
    expect(refusal(() => loadConfig(env)).message).toContain("(top): expected a map");
    writeFileSync(env.CHAMICORE_CONFIG!, "contexts: [\n");
    expect(refusal(() => loadConfig(env)).message).toContain("is not valid YAML");
  });
});

describe("tokens.yaml", () => {
  it("reads back saved tokens and refuses a malformed one by its context", () => {
    expect(loadTokens(env)).toEqual({});
    saveTokens(env, { site: { token: "eyJ.x.y", expires: 1_900_000_000 } });
    expect(loadTokens(env)).toEqual({ site: { token: "eyJ.x.y", expires: 1_900_000_000 } });
    writeFileSync(join(dir, "tokens.yaml"), "site:\n  token: t\n  expires: soon\n");
    expect(refusal(() => loadTokens(env)).message).toContain("site: expected a token");
  });
});
