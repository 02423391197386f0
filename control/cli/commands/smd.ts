/**
 * The inventory (SMD) commands: `smd components|interfaces|groups|partitions`
 * with the usual verbs (resource.ts), and `add-member` / `remove-member`
 * for groups and partitions.
 */
import type { Argv, Options } from "yargs";
import { unwrap } from "../../../shared/client";
import { type Cli, type GlobalOptions, run } from "../../../shared/node/cli/app";
import type { Column } from "../../../shared/node/cli/output";
import {
  ARCHES,
  type Args,
  type CommandModule,
  col,
  commandGroup,
  FLAGS,
  filter,
  idColumn,
  NET_TYPES,
  newKey,
  picked,
  ROLES,
  STATES,
  SUB_ROLES,
  sortFilter,
} from "../groups";
import { type ResourceSpec, resourceCommand } from "../resource";

// ---------- components ----------

const COMPONENTS = "/hsm/v2/State/Components";

const componentFilters: Record<string, Options> = {
  id: filter("component id"),
  type: filter("type, e.g. Node, NodeBMC, Switch"),
  state: filter(`state: ${STATES.join(", ")}`),
  role: filter(`role: ${ROLES.join(", ")}`),
  subRole: filter(`sub-role: ${SUB_ROLES.join(", ")}`, { alias: "sub-role" }),
  flag: filter(`flag: ${FLAGS.join(", ")}`),
  arch: filter(`architecture: ${ARCHES.join(", ")}`),
  rack: filter("rack"),
  parentId: filter("parent component id", { alias: "parent" }),
  nid: filter("node id (numeric)"),
  enabled: { type: "boolean", describe: "enabled (--no-enabled: disabled ones)" },
  sort: sortFilter("id, type, state, role, nid, rack, createdAt, updatedAt"),
};

const componentFields: Record<string, Options> = {
  id: { type: "string", describe: "component id, e.g. an xname (default: <type>-<8 hex>)" },
  type: { type: "string", describe: "type, e.g. Node (implied by an xname id)" },
  state: { type: "string", choices: STATES, describe: "state (default Empty)" },
  role: { type: "string", choices: ROLES, describe: "role" },
  "sub-role": { type: "string", choices: SUB_ROLES, describe: "sub-role" },
  nid: { type: "number", describe: "node id (numeric)" },
  arch: { type: "string", choices: ARCHES, describe: "architecture" },
  "net-type": { type: "string", choices: NET_TYPES, describe: "network type" },
  flag: { type: "string", choices: FLAGS, describe: "flag (default OK)" },
  parent: { type: "string", describe: "parent component id (must exist)" },
  rack: { type: "string", describe: "rack (default: the cabinet of an xname id)" },
  enabled: { type: "boolean", describe: "enabled (default true; --no-enabled disables)" },
};

const componentBody = (a: Args) => ({
  ...newKey(a),
  ...picked(a, {
    type: "type",
    state: "state",
    role: "role",
    "sub-role": "subRole",
    nid: "nid",
    arch: "arch",
    "net-type": "netType",
    flag: "flag",
    parent: "parentId",
    rack: "rack",
    enabled: "enabled",
  }),
});

// ---------- interfaces ----------

const INTERFACES = "/hsm/v2/Inventory/EthernetInterfaces";

/** `--ip ADDRESS[@NETWORK]` (repeatable) as the API's ipAddresses. */
function ipAddresses(values: unknown): { ipAddress: string; network?: string }[] {
  return (values as unknown[]).map((v) => {
    const [ipAddress = "", network] = String(v).split("@");
    return network ? { ipAddress, network } : { ipAddress };
  });
}

const interfaceBody = (a: Args) => ({
  ...newKey(a),
  ...picked(a, { component: "componentId", mac: "macAddress", description: "description" }),
  ...(a.ip === undefined ? {} : { ipAddresses: ipAddresses(a.ip) }),
});

// ---------- groups and partitions ----------

type Kind = "group" | "partition";

const members = (s: Record<string, unknown>) => {
  const m = (s.members as string[] | undefined) ?? [];
  return m.length > 5 ? `${m.slice(0, 5).join(",")} (+${m.length - 5} more)` : m;
};

const groupBody = (a: Args) => ({
  ...newKey(a, "name"),
  ...picked(a, { description: "description" }),
  ...(a.tag === undefined ? {} : { tags: (a.tag as unknown[]).map(String) }),
  ...(a.member === undefined ? {} : { members: (a.member as unknown[]).map(String) }),
});

type MemberArgs = GlobalOptions & { name: string; componentId: string[] };

function memberCommands(kind: Kind) {
  return (g: Argv, cli: Cli): Argv =>
    g
      .command(
        "add-member <name> <componentId..>",
        `add components to a ${kind} (members already in it stay as they are)${kind === "partition" ? "; a component can be in only one partition" : ""}`,
        (c) =>
          c
            .positional("name", { type: "string", demandOption: true, describe: `the ${kind}` })
            .positional("componentId", { type: "string", array: true, describe: "component ids" })
            .example(`$0 smd ${kind}s add-member compute x1000c0s0b0n0 x1000c0s0b1n0`, `add two components`),
        run<MemberArgs>(async (a) => {
          const client = cli.session(a).client;
          const path = { params: { path: { name: a.name } }, body: { ids: a.componentId.map(String) } };
          const { data } =
            kind === "group"
              ? await unwrap(client.POST("/hsm/v2/groups/{name}/members", path))
              : await unwrap(client.POST("/hsm/v2/partitions/{name}/members", path));
          cli.printer(a).print(data, groupColumns);
        }),
      )
      .command(
        "remove-member <name> <componentId..>",
        `remove components from a ${kind} (they stay in the inventory)`,
        (c) =>
          c
            .positional("name", { type: "string", demandOption: true, describe: `the ${kind}` })
            .positional("componentId", { type: "string", array: true, describe: "component ids" })
            .example(`$0 smd ${kind}s remove-member compute x1000c0s0b0n0`, "remove a component"),
        run<MemberArgs>(async (a) => {
          const client = cli.session(a).client;
          const printer = cli.printer(a);
          for (const componentId of a.componentId.map(String)) {
            const params = { params: { path: { name: a.name, componentId } } };
            await unwrap(
              kind === "group"
                ? client.DELETE("/hsm/v2/groups/{name}/members/{componentId}", params)
                : client.DELETE("/hsm/v2/partitions/{name}/members/{componentId}", params),
            );
            printer.err(`removed ${componentId} from ${kind} ${a.name}`);
          }
        }),
      );
}

const groupColumns: Column[] = [
  ["NAME", (r) => (r as { metadata?: { id?: unknown } }).metadata?.id],
  col("DESCRIPTION", "description"),
  col("TAGS", "tags"),
  col("MEMBERS", members),
];

function groupSpec(kind: Kind): ResourceSpec {
  const plural = `${kind}s`;
  const exclusive = kind === "partition" ? " A component can be in only one partition." : "";
  return {
    name: plural,
    parent: "smd",
    describe:
      kind === "group"
        ? "groups: named sets of components (a component can be in many)"
        : "partitions: named sets of components, exclusive (a component is in at most one)",
    path: `/hsm/v2/${plural}`,
    key: "name",
    columns: groupColumns,
    verbs: ["list", "get", "create", "update", "delete"],
    filters: {
      name: filter(`${kind} name`),
      tag: filter("having this tag"),
      member: filter("containing this component id"),
      sort: sortFilter("name, createdAt, updatedAt"),
    },
    fields: {
      name: { type: "string", describe: `${kind} name (on create)` },
      description: { type: "string", describe: "what it is for" },
      tag: { type: "string", array: true, describe: "a tag (repeatable; on update, replaces the tags)" },
      member: {
        type: "string",
        array: true,
        describe: `a member component id (repeatable; on update, replaces the members: add-member and remove-member change one by one).${exclusive}`,
      },
    },
    body: groupBody,
    examples: [
      [`$0 smd ${plural} list`, `list ${plural}`],
      [`$0 smd ${plural} create --name compute --member x1000c0s0b0n0`, `create a ${kind}`],
      [`$0 smd ${plural} add-member compute x1000c0s0b1n0 x1000c0s0b2n0`, "add members"],
    ],
    verbExamples: {
      list: [
        [`$0 smd ${plural} list`, `every ${kind}`],
        [`$0 smd ${plural} list --member x1000c0s0b0n0`, `the ${plural} holding a component`],
        [`$0 smd ${plural} list --tag gpu -o json`, "by tag, as JSON"],
      ],
      get: [[`$0 smd ${plural} get compute`, `one ${kind} with its members`]],
      create: [
        [
          `$0 smd ${plural} create --name compute --description "compute nodes" --tag hpc`,
          `an empty ${kind}`,
        ],
        [
          `$0 smd ${plural} create --name rack1 --member x1000c0s0b0n0 --member x1000c0s0b1n0`,
          "with members",
        ],
        [`$0 smd ${plural} create -f ${kind}.yaml`, "from a YAML or JSON document"],
      ],
      update: [
        [`$0 smd ${plural} update compute --description "all compute nodes"`, "change the description"],
        [`$0 smd ${plural} update compute --tag hpc --tag gpu`, "replace the tags"],
        [`$0 smd ${plural} update compute --set description=null`, "clear a field"],
      ],
      delete: [[`$0 smd ${plural} delete compute`, `delete a ${kind} (its components stay)`]],
    },
    more: memberCommands(kind),
  };
}

// ---------- the command group ----------

export const smdCommands: CommandModule = (y, cli) =>
  commandGroup(
    y,
    "smd",
    "inventory (SMD): components, their ethernet interfaces, groups and partitions",
    [
      ["$0 smd components list --role Compute", "list compute nodes"],
      ["$0 smd interfaces list --component x1000c0s0b0n0", "a node's interfaces"],
      ["$0 smd groups add-member compute x1000c0s0b0n0", "add a node to a group"],
    ],
    (g) => {
      resourceCommand(g, cli, {
        name: "components",
        parent: "smd",
        describe: "components: nodes, BMCs, switches and the rest of the hardware",
        path: COMPONENTS,
        columns: [
          idColumn,
          col("TYPE", "type"),
          col("ROLE", "role"),
          col("NID", "nid"),
          col("STATE", "state"),
          col("ENABLED", "enabled"),
          col("ARCH", "arch"),
        ],
        verbs: ["list", "get", "create", "update", "delete"],
        filters: componentFilters,
        fields: componentFields,
        body: componentBody,
        examples: [
          ["$0 smd components list --role Compute --state Ready", "ready compute nodes"],
          ["$0 smd components create --id x1000c0s0b0n0 --role Compute --nid 1", "add a node"],
          ["$0 smd components update x1000c0s0b0n0 --no-enabled", "disable a node"],
        ],
        verbExamples: {
          list: [
            ["$0 smd components list --role Compute", "compute nodes"],
            ["$0 smd components list --type Node --state Ready,On --sort=-nid", "several values, sorted"],
            ["$0 smd components list --no-enabled -o json", "disabled components, as JSON"],
          ],
          get: [
            ["$0 smd components get x1000c0s0b0n0", "one component"],
            ["$0 smd components get x1000c0s0b0n0 -o yaml", "as YAML"],
          ],
          create: [
            [
              "$0 smd components create --id x1000c0s0b0n0 --role Compute --nid 1 --arch X86",
              "a node (type from the xname)",
            ],
            ["$0 smd components create --type Switch --set rack=r12", "a generated id"],
            [
              "$0 smd components create -f node.yaml",
              "from a YAML or JSON document (it may list interfaces)",
            ],
          ],
          update: [
            ["$0 smd components update x1000c0s0b0n0 --state Ready --role Service", "change fields"],
            [
              "$0 smd components update x1000c0s0b0n0 --no-enabled",
              "disable it (nodes then get no boot script)",
            ],
            ["$0 smd components update x1000c0s0b0n0 --set nid=null", "reset a field"],
          ],
          delete: [
            ["$0 smd components delete x1000c0s0b0n0", "delete it with its interfaces and memberships"],
          ],
        },
      });
      resourceCommand(g, cli, {
        name: "interfaces",
        parent: "smd",
        describe: "ethernet interfaces: one MAC each, unique across the inventory",
        path: INTERFACES,
        columns: [
          idColumn,
          col("COMPONENT", "componentId"),
          col("MAC", "macAddress"),
          col("IPS", (s) =>
            ((s.ipAddresses as { ipAddress: string }[] | undefined) ?? []).map((i) => i.ipAddress),
          ),
          col("DESCRIPTION", "description"),
        ],
        verbs: ["list", "get", "create", "update", "delete"],
        filters: {
          id: filter("interface id"),
          componentId: filter("owning component id", { alias: "component" }),
          macAddress: filter("MAC address, in any usual spelling", { alias: "mac" }),
          ipAddress: filter("an IP address the interface holds", { alias: "ip" }),
          sort: sortFilter("id, componentId, macAddress, createdAt, updatedAt"),
        },
        fields: {
          id: { type: "string", describe: "interface id (default: the MAC without separators)" },
          component: { type: "string", describe: "owning component id (must exist)" },
          mac: { type: "string", describe: "MAC address: aa:bb:cc:dd:ee:ff, aa-bb-… or aabbccddeeff" },
          ip: {
            type: "string",
            array: true,
            describe: "ADDRESS[@NETWORK] (repeatable; on update, replaces the addresses)",
          },
          description: { type: "string", describe: "free text" },
        },
        body: interfaceBody,
        examples: [
          ["$0 smd interfaces list --component x1000c0s0b0n0", "a node's interfaces"],
          [
            "$0 smd interfaces create --component x1000c0s0b0n0 --mac a4:bf:01:38:ee:65 --ip 10.1.0.17",
            "add one",
          ],
        ],
        verbExamples: {
          list: [
            ["$0 smd interfaces list --component x1000c0s0b0n0", "a node's interfaces"],
            ["$0 smd interfaces list --mac a4-bf-01-38-ee-65", "who has this MAC"],
            ["$0 smd interfaces list --ip 10.1.0.17 -o json", "who has this address, as JSON"],
          ],
          get: [["$0 smd interfaces get a4bf0138ee65", "one interface"]],
          create: [
            [
              "$0 smd interfaces create --component x1000c0s0b0n0 --mac a4:bf:01:38:ee:65 --ip 10.1.0.17@mgmt",
              "an interface with an address on network mgmt",
            ],
            ["$0 smd interfaces create -f nic.yaml", "from a YAML or JSON document"],
          ],
          update: [
            ["$0 smd interfaces update a4bf0138ee65 --ip 10.1.0.18 --ip 10.2.0.18", "replace the addresses"],
            ["$0 smd interfaces update a4bf0138ee65 --description 'onboard port 1'", "describe it"],
          ],
          delete: [["$0 smd interfaces delete a4bf0138ee65", "delete an interface"]],
        },
      });
      resourceCommand(g, cli, groupSpec("group"));
      resourceCommand(g, cli, groupSpec("partition"));
      return g;
    },
  );
