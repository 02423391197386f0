/**
 * The edge's commands: run the edge (`chamicore edge`, or `chamicore-edge`
 * with no command), and `list`, `kea-config`, `status` under it.
 */
import type { Argv } from "yargs";
import type { Cli, GlobalOptions } from "../../shared/node/cli/app";
import { untilSignal } from "../../shared/node/until-signal";
import type { ImportArgs } from "../bundles/command";
import { KEA_CONFIG_OPTIONS, type KeaConfigFlags, keaConfigCommand } from "../kea/command";

/** The edge's own commands under the edge (`chamicore-edge <command>`, or `chamicore edge <command>`). */
function edgeSubcommands<T extends GlobalOptions>(y: Argv<T>, cli: Cli): Argv<T> {
  return y
    .command(
      "list",
      "every edge that reports to the control plane, with its position, lag, feed mode, Kea sync and whether it went quiet (from the control API)",
      (l) => l.example(`$0 list`, "").example(`$0 list -o json`, ""),
      async (a) => {
        const { edgeList } = await import("./list");
        await edgeList(cli, a);
      },
    )
    .command(
      "kea-config",
      "print the Kea client classes and flex_option hook for two-stage network boot (docs/dhcp.md)",
      (k) =>
        k
          .options(KEA_CONFIG_OPTIONS)
          .example(
            `$0 kea-config --edge-url http://10.1.0.2:8081`,
            "the edge serves iPXE itself (TFTP and HTTP)",
          )
          .example(
            `$0 kea-config --edge-url http://10.1.0.2:8081 --tftp-server 10.1.0.9`,
            "the iPXE binaries from another TFTP server",
          ),
      (a) => {
        cli.exitCode = keaConfigCommand(a as KeaConfigFlags, cli.env);
      },
    )
    .command(
      "import <file>",
      "feed the replica from a signed bundle carried across an air gap (made by chamicore export); also while the edge runs, which serves it within a second (docs/air-gapped.md)",
      (i) =>
        i
          .positional("file", { type: "string", demandOption: true, describe: "the bundle (.tar.gz)" })
          .option("allow-older", {
            type: "boolean",
            describe: "import a bundle older than the replica: roll the rack back on purpose",
          })
          .option("allow-other-source", {
            type: "boolean",
            describe: "replace a replica that follows another control plane with this bundle's snapshot",
          })
          .example("CHAMICORE_EDGE_TRUSTED_KEYS=/etc/chamicore/bundle-key.json $0 import site.tar.gz", ""),
      async (a) => {
        const { runImport } = await import("../bundles/command");
        await runImport(cli, a as unknown as ImportArgs);
      },
    )
    .command(
      "status",
      "an edge node's replica position, lag, feed mode and Kea sync, from its /status",
      (s) =>
        s
          .option("url", {
            type: "string",
            demandOption: true,
            describe: "the edge's base URL, e.g. http://10.1.0.2:8081",
          })
          .example(`$0 status --url http://10.1.0.2:8081`, ""),
      async (a) => {
        const { edgeStatus } = await import("./status");
        await edgeStatus(cli, a);
      },
    );
}

const runEdgeOptions = (y: Argv) =>
  y
    .option("resync", { type: "boolean", describe: "rebuild the replica from a fresh snapshot" })
    .example(
      `CHAMICORE_CONTROL_URL=https://chamicore.example.org $0`,
      "follow the control plane and serve the rack",
    );

async function runEdge(cli: Cli, a: Record<string, unknown>): Promise<void> {
  // The single executable brings its Bun server; under Node it is loaded on demand.
  const start = cli.io.startEdge ?? (await import("../node/serve")).startEdge;
  await untilSignal(() => start(cli.env, { resync: a.resync === true }));
}

/** The `chamicore-edge` tree: runs the edge by default, its subcommands at the top. */
export function edgeExecutableCommands<T extends GlobalOptions>(y: Argv<T>, cli: Cli): Argv<T> {
  return edgeSubcommands(
    y.command(
      "$0",
      "run the rack-local edge node; see docs/edge.md",
      (c) => runEdgeOptions(c),
      (a) => runEdge(cli, a),
    ),
    cli,
  );
}
