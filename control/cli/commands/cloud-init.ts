/**
 * The cloud-init commands: `cloud-init payloads` (the usual verbs over
 * /cloud-init/payloads) and `cloud-init preview`, the documents a node
 * would be served (the public NoCloud endpoints, as the node reads them).
 */
import { createClient, unwrap } from "../../../shared/client";
import { type Cli, type GlobalOptions, run } from "../../../shared/node/cli/app";
import { CliError, EXIT } from "../../../shared/node/cli/errors";
import type { CommandModule } from "../groups";
import { type Args, col, commandGroup, filter, idColumn, newKey, picked, ROLES, sortFilter } from "../groups";
import { readDocument, readText, setPairs } from "../input";
import { resourceCommand } from "../resource";

const DOCUMENTS = ["user-data", "meta-data", "vendor-data"] as const;
type DocumentName = (typeof DOCUMENTS)[number];

/** Where the payload applies: `component=ID`, `group=NAME` or `role=ROLE`. */
const target = (s: Record<string, unknown>) =>
  s.componentId
    ? `component=${s.componentId}`
    : s.group
      ? `group=${s.group}`
      : s.role
        ? `role=${s.role}`
        : "";

/** A document's first line and size, for a table cell. */
const summary = (text: unknown) => {
  if (typeof text !== "string") return "";
  const lines = text.split("\n").filter((l) => l !== "").length;
  return `${text.split("\n", 1)[0]} (${lines} line${lines === 1 ? "" : "s"})`;
};

/**
 * Flags to body. A target flag clears the other targets, so that
 * `update ID --group compute` moves the payload (the API wants exactly one
 * target, and a merge patch keeps what it is not told to clear).
 */
const payloadBody = (cli: Cli) => (a: Args) => {
  const body: Record<string, unknown> = {
    ...newKey(a),
    ...picked(a, {
      "user-data": "userData",
      "vendor-data": "vendorData",
      "bind-to-address": "bindToAddress",
    }),
  };
  if (a.component !== undefined || a.group !== undefined || a.role !== undefined)
    Object.assign(body, {
      componentId: a.component ?? null,
      group: a.group ?? null,
      role: a.role ?? null,
    });
  if (a["user-data-file"] !== undefined) body.userData = readText(String(a["user-data-file"]), cli.io.stdin);
  if (a["vendor-data-file"] !== undefined)
    body.vendorData = readText(String(a["vendor-data-file"]), cli.io.stdin);
  const meta: Record<string, unknown> = {};
  if (a["meta-data-file"] !== undefined) {
    const doc = readDocument(String(a["meta-data-file"]), cli.io.stdin);
    if (typeof doc !== "object" || doc === null || Array.isArray(doc))
      throw new CliError(EXIT.usage, `${a["meta-data-file"]} must hold one object (meta-data keys)`);
    Object.assign(meta, doc);
  }
  Object.assign(meta, setPairs(a.meta as string[] | undefined));
  if (Object.keys(meta).length > 0) body.metaData = meta;
  return body;
};

type PreviewArgs = GlobalOptions & { componentId: string; document: DocumentName };

export const cloudInitCommands: CommandModule = (y, cli) =>
  commandGroup(
    y,
    "cloud-init",
    "cloud-init: payloads (user-data, meta-data, vendor-data) per component, group or role, and what a node is served",
    [
      [
        "$0 cloud-init payloads create --role Compute --user-data-file compute.yaml",
        "user-data for every compute node",
      ],
      ["$0 cloud-init preview x1000c0s0b0n0", "the user-data that node gets"],
    ],
    (g) => {
      resourceCommand(g, cli, {
        name: "payloads",
        parent: "cloud-init",
        describe:
          "cloud-init payloads: data for one component, a group or a role (a node gets its role's, then its groups', then its own, merged)",
        path: "/cloud-init/payloads",
        columns: [
          idColumn,
          col("TARGET", target),
          col("USER-DATA", (s) => summary(s.userData)),
          col("META-DATA", (s) => (s.metaData ? Object.keys(s.metaData as object) : "")),
          col("VENDOR-DATA", (s) => summary(s.vendorData)),
          col("BIND", "bindToAddress"),
        ],
        verbs: ["list", "get", "create", "update", "delete"],
        filters: {
          id: filter("payload id"),
          componentId: filter("target component id", { alias: "component" }),
          group: filter("target group name"),
          role: filter(`target role: ${ROLES.join(", ")}`),
          sort: sortFilter("id, componentId, group, role, createdAt, updatedAt"),
        },
        fields: {
          id: { type: "string", describe: "payload id (default: payload-<16 hex>)" },
          component: {
            type: "string",
            describe: "target: this component (exactly one of --component, --group, --role)",
            conflicts: ["group", "role"],
          },
          group: {
            type: "string",
            describe: "target: the members of this group",
            conflicts: ["component", "role"],
          },
          role: {
            type: "string",
            choices: ROLES,
            describe: "target: every component of this role",
            conflicts: ["component", "group"],
          },
          "user-data": {
            type: "string",
            describe: "user-data text (#cloud-config, #!script, …)",
            conflicts: "user-data-file",
          },
          "user-data-file": { type: "string", describe: "user-data from a file ('-' reads stdin)" },
          "vendor-data": { type: "string", describe: "vendor-data text", conflicts: "vendor-data-file" },
          "vendor-data-file": { type: "string", describe: "vendor-data from a file ('-' reads stdin)" },
          meta: {
            type: "string",
            array: true,
            describe: "a meta-data key=value (repeatable; on update, merged key by key)",
          },
          "meta-data-file": { type: "string", describe: "meta-data keys from a YAML or JSON file" },
          "bind-to-address": {
            type: "boolean",
            describe: "serve it only to callers at one of the node's own addresses",
          },
        },
        body: payloadBody(cli),
        examples: [
          ["$0 cloud-init payloads list --role Compute", "the payloads of role Compute"],
          ["$0 cloud-init payloads create --group gpu --user-data-file gpu.yaml", "user-data for a group"],
        ],
        verbExamples: {
          list: [
            ["$0 cloud-init payloads list", "all payloads"],
            ["$0 cloud-init payloads list --component x1000c0s0b0n0", "a node's own payload"],
            ["$0 cloud-init payloads list --group gpu -o yaml", "a group's, as YAML"],
          ],
          get: [["$0 cloud-init payloads get payload-compute -o yaml", "one payload, as YAML"]],
          create: [
            [
              "$0 cloud-init payloads create --id payload-compute --role Compute --user-data-file compute.yaml",
              "user-data from a file",
            ],
            [
              "$0 cloud-init payloads create --component x1000c0s0b0n0 --meta local-hostname=cn001 --bind-to-address",
              "meta-data for one node, served only to it",
            ],
            ["$0 cloud-init payloads create -f payload.yaml", "from a YAML or JSON document"],
          ],
          update: [
            ["$0 cloud-init payloads update payload-compute --user-data-file compute.yaml", "new user-data"],
            [
              "$0 cloud-init payloads update payload-compute --set metaData.rack=null",
              "remove a meta-data key",
            ],
            ["$0 cloud-init payloads update payload-compute --group gpu", "move it to another target"],
          ],
          delete: [["$0 cloud-init payloads delete payload-compute", "delete a payload"]],
        },
      });
      g.command(
        "preview <componentId>",
        "print a document as the node is served it (the payloads merged; -o json or yaml: {component, document, contentType, content})",
        (c) =>
          c
            .positional("componentId", { type: "string", demandOption: true, describe: "the component" })
            .option("document", {
              alias: "d",
              choices: DOCUMENTS,
              default: "user-data" as DocumentName,
              describe: "which document",
            })
            .example("$0 cloud-init preview x1000c0s0b0n0", "its user-data")
            .example("$0 cloud-init preview x1000c0s0b0n0 --document meta-data", "its meta-data")
            .example("$0 cloud-init preview x1000c0s0b0n0 -d vendor-data -o json", "as JSON"),
        run<PreviewArgs>(async (a) => {
          // Public, as for a booting node: no token needed.
          const client = createClient({ endpoint: cli.session(a).endpoint });
          const params = { params: { path: { id: String(a.componentId) } }, parseAs: "text" as const };
          const { data, response } =
            a.document === "meta-data"
              ? await unwrap(client.GET("/cloud-init/{id}/meta-data", params))
              : a.document === "vendor-data"
                ? await unwrap(client.GET("/cloud-init/{id}/vendor-data", params))
                : await unwrap(client.GET("/cloud-init/{id}/user-data", params));
          const printer = cli.printer(a);
          if (a.output === "json" || a.output === "yaml")
            printer.print({
              component: a.componentId,
              document: a.document,
              contentType: response.headers.get("Content-Type"),
              content: data,
            });
          else printer.out(data);
        }),
      );
      return g;
    },
  );
