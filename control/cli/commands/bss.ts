/**
 * The boot service commands: `bss bootparams` (the usual verbs over
 * /boot/v1/bootparams), `bss artifacts` (./artifacts.ts) and `bss script`,
 * the iPXE script a node would get.
 */
import { createClient, unwrap } from "../../../shared/client";
import { type GlobalOptions, run } from "../../../shared/node/cli/app";
import { CliError, EXIT } from "../../../shared/node/cli/errors";
import type { CommandModule } from "../groups";
import { type Args, col, commandGroup, filter, idColumn, newKey, picked, ROLES, sortFilter } from "../groups";
import { resourceCommand } from "../resource";
import { artifactCommands } from "./artifacts";

/** Where the params apply: `component=ID`, `role=ROLE` or `default`. */
const target = (s: Record<string, unknown>) =>
  s.componentId ? `component=${s.componentId}` : s.role ? `role=${s.role}` : s.isDefault ? "default" : "";

/** The kernel or initrd cell: its URI, or the artifact named instead. */
const image = (uri: string, ref: string) => (s: Record<string, unknown>) => {
  const artifact = (s[ref] as { artifact?: string } | null | undefined)?.artifact;
  return s[uri] || (artifact ? `artifact:${artifact}` : "");
};

/**
 * Flags to body. A target flag clears the other targets, so that
 * `update ID --role Compute` moves the params (the API wants exactly one
 * target, and a merge patch keeps what it is not told to clear).
 */
const bootParamsBody = (a: Args) => {
  const body: Record<string, unknown> = {
    ...newKey(a),
    ...picked(a, { kernel: "kernelUri", initrd: "initrdUri", params: "cmdline" }),
    // By name or digest; the API resolves it (and clears the URI it replaces on update).
    ...(a["kernel-artifact"] === undefined ? {} : { kernel: { artifact: String(a["kernel-artifact"]) } }),
    ...(a["initrd-artifact"] === undefined ? {} : { initrd: { artifact: String(a["initrd-artifact"]) } }),
  };
  if (a.component !== undefined || a.role !== undefined || a.default === true)
    Object.assign(body, {
      componentId: a.component ?? null,
      role: a.role ?? null,
      isDefault: a.default === true,
    });
  else if (a.default === false) body.isDefault = false;
  return body;
};

type ScriptArgs = GlobalOptions & { mac?: string; name?: string; nid?: number; retry?: number };

export const bssCommands: CommandModule = (y, cli) =>
  commandGroup(
    y,
    "bss",
    "boot service: boot parameters (kernel, initrd, command line) per node, role or cluster default, and the iPXE boot script",
    [
      [
        "$0 bss bootparams create --role Compute --kernel http://img/vmlinuz --initrd http://img/initrd",
        "boot every compute node",
      ],
      [
        "$0 bss artifacts upload ./vmlinuz-6.1.0 --kind kernel",
        "upload a kernel for boot parameters to name",
      ],
      ["$0 bss script --mac a4:bf:01:38:ee:65", "the boot script that node gets"],
    ],
    (g) => {
      resourceCommand(g, cli, {
        name: "bootparams",
        parent: "bss",
        describe:
          "boot parameters for one component, a role, or the cluster default (a node gets its own, else its role's, else the default)",
        path: "/boot/v1/bootparams",
        columns: [
          idColumn,
          col("TARGET", target),
          col("KERNEL", image("kernelUri", "kernel")),
          col("INITRD", image("initrdUri", "initrd")),
          col("PARAMS", "cmdline"),
        ],
        verbs: ["list", "get", "create", "update", "delete"],
        filters: {
          id: filter("boot parameters id"),
          componentId: filter("target component id", { alias: "component" }),
          role: filter(`target role: ${ROLES.join(", ")}`),
          isDefault: {
            type: "boolean",
            alias: "default",
            describe: "the cluster default only (--no-default: all but it)",
          },
          sort: sortFilter("id, componentId, role, createdAt, updatedAt"),
        },
        fields: {
          id: { type: "string", describe: "boot parameters id (default: bp-<8 hex>)" },
          component: {
            type: "string",
            describe: "target: this component (exactly one of --component, --role, --default)",
            conflicts: ["role", "default"],
          },
          role: {
            type: "string",
            choices: ROLES,
            describe: "target: every component of this role",
            conflicts: ["component", "default"],
          },
          default: {
            type: "boolean",
            describe: "target: the cluster default (nodes without params of their own or their role's)",
            conflicts: ["component", "role"],
          },
          kernel: {
            type: "string",
            describe:
              "kernel URI (http, https, tftp, ftp or nfs); {id}, {nid}, {role}, {mac} are substituted",
            conflicts: ["kernel-artifact"],
          },
          initrd: {
            type: "string",
            describe: "initrd URI, like --kernel (empty: none)",
            conflicts: ["initrd-artifact"],
          },
          "kernel-artifact": {
            type: "string",
            describe:
              "the kernel as a boot artifact, by name or SHA-256 (bss artifacts list), instead of --kernel",
          },
          "initrd-artifact": {
            type: "string",
            describe: "the initrd as a boot artifact, instead of --initrd",
          },
          params: {
            type: "string",
            alias: "cmdline",
            describe: "kernel command line (the node's identity is appended at boot)",
          },
        },
        body: bootParamsBody,
        examples: [
          ["$0 bss bootparams list --role Compute", "the params of role Compute"],
          ["$0 bss bootparams create --default --kernel http://img/vmlinuz", "a cluster default"],
        ],
        verbExamples: {
          list: [
            ["$0 bss bootparams list", "all boot parameters"],
            ["$0 bss bootparams list --component x1000c0s0b0n0", "a node's own params"],
            ["$0 bss bootparams list --default -o yaml", "the cluster default, as YAML"],
          ],
          get: [["$0 bss bootparams get bp-3f2a9c1d", "one set of boot parameters"]],
          create: [
            [
              "$0 bss bootparams create --role Compute --kernel http://img/vmlinuz --initrd http://img/initrd --params 'console=ttyS0,115200'",
              "for every compute node",
            ],
            [
              "$0 bss bootparams create --component x1000c0s0b0n0 --kernel 'http://img/{role}/vmlinuz'",
              "for one node, with substitution",
            ],
            [
              "$0 bss bootparams create --role Compute --kernel-artifact vmlinuz-6.1.0 --initrd-artifact initrd-6.1.0",
              "boot artifacts (bss artifacts upload) instead of URIs",
            ],
            ["$0 bss bootparams create -f params.yaml", "from a YAML or JSON document"],
          ],
          update: [
            ["$0 bss bootparams update bp-3f2a9c1d --kernel http://img/vmlinuz-6.2", "a new kernel"],
            ["$0 bss bootparams update bp-3f2a9c1d --kernel-artifact vmlinuz-6.2.0", "a new kernel artifact"],
            ["$0 bss bootparams update bp-3f2a9c1d --role Service", "move them to another target"],
            ["$0 bss bootparams update bp-3f2a9c1d --set initrdUri=null", "boot without an initrd"],
          ],
          delete: [
            ["$0 bss bootparams delete bp-3f2a9c1d", "nodes fall back to their role's, then the default"],
          ],
        },
      });
      artifactCommands(g, cli);
      g.command(
        "script",
        "print the iPXE boot script a node gets, as it is served (-o json or yaml: {kind, script}, kind being boot or wait)",
        (c) =>
          c
            .option("mac", { type: "string", describe: "the booting interface's MAC" })
            .option("name", { type: "string", describe: "the component id" })
            .option("nid", { type: "number", describe: "the node id (numeric)" })
            .option("retry", {
              type: "number",
              describe: "as the script's own retry would ask (attempt N+1)",
            })
            .conflicts("mac", ["name", "nid"])
            .conflicts("name", "nid")
            .example("$0 bss script --mac a4:bf:01:38:ee:65", "what the node with this MAC boots")
            .example("$0 bss script --name x1000c0s0b0n0 -o json", "as JSON: {kind, script}")
            .example("$0 bss script --nid 1 --retry 3", "the script of a fourth attempt"),
        run<ScriptArgs>(async (a) => {
          if (a.mac === undefined && a.name === undefined && a.nid === undefined)
            throw new CliError(EXIT.usage, "say which node: --mac, --name or --nid");
          for (const k of ["nid", "retry"] as const)
            if (a[k] !== undefined && !(Number.isInteger(a[k]) && a[k] >= 0))
              throw new CliError(EXIT.usage, `--${k} takes a whole number`);
          // Public, as for a booting node: no token needed.
          const client = createClient({ endpoint: cli.session(a).endpoint });
          const query = {
            ...(a.mac === undefined ? {} : { mac: a.mac }),
            ...(a.name === undefined ? {} : { name: a.name }),
            ...(a.nid === undefined ? {} : { nid: String(a.nid) }),
            ...(a.retry === undefined ? {} : { retry: String(a.retry) }),
          };
          const { data, response } = await unwrap(
            client.GET("/boot/v1/bootscript", { params: { query }, parseAs: "text" }),
          );
          const kind = response.headers.get("X-Chamicore-Boot") ?? "boot";
          const printer = cli.printer(a);
          if (a.output === "json" || a.output === "yaml") printer.print({ kind, script: data });
          else printer.out(data);
          if (kind !== "boot") printer.err("(this node cannot boot yet: the script says why and retries)");
        }),
      );
      return g;
    },
  );
