/**
 * `chamicore edge import <file>`: runs the import with this executable's
 * SQLite and tells the operator what it did, or exactly why it refused
 * (and that the replica is unchanged).
 */
import type { Cli } from "../../shared/node/cli/app";
import { CliError, EXIT } from "../../shared/node/cli/errors";
import { BundleRefused } from "./read";

export interface ImportArgs {
  file: string;
  "allow-older"?: boolean;
  "allow-other-source"?: boolean;
}

export async function runImport(cli: Cli, a: ImportArgs): Promise<void> {
  const importer = cli.io.importBundle ?? (await import("../node/serve")).importBundle;
  const say = (line: string) => cli.io.stderr.write(`${line}\n`);
  try {
    const r = await importer(cli.env, {
      file: a.file,
      allowOlder: a["allow-older"] === true,
      allowOtherSource: a["allow-other-source"] === true,
      progress: say,
    });
    const counts = Object.entries(r.counts)
      .filter(([k]) => k !== "artifacts")
      .map(([k, v]) => `${v} ${k}`)
      .join(", ");
    cli.io.stdout.write(
      `imported ${a.file} in ${(r.ms / 1000).toFixed(1)} s: a ${r.kind} of control plane ${r.source} (${counts}); ` +
        `the replica went from position ${r.before} to ${r.position}; ${r.artifacts} artifact(s) cached` +
        `${r.artifactsLeftOut > 0 ? `, ${r.artifactsLeftOut} not in the bundle (held elsewhere: the nodes fetch them from their URLs)` : ""}\n`,
    );
  } catch (e) {
    if (e instanceof BundleRefused)
      throw new CliError(EXIT.failed, `refused ${a.file}: ${e.message}. The replica is unchanged.`);
    throw e;
  }
}
