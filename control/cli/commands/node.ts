/**
 * `node provision` and `node decommission`: one node across the inventory,
 * the boot service and cloud-init, step by step (plan P4.6). Each step
 * reads first, so running a command again converges instead of failing;
 * --dry-run does only the reads. The report and the exit code rules are
 * in ../workflows/steps.ts.
 */
import type { Argv } from "yargs";
import { type ApiClient, ApiProblem, type Schemas, unwrap } from "../../../shared/client";
import { type Cli, type GlobalOptions, run } from "../../../shared/node/cli/app";
import { CliError, EXIT } from "../../../shared/node/cli/errors";
import type { CommandModule } from "../groups";
import { readDocument, readText, setPairs } from "../input";
import {
  bootParamsChanges,
  type CurrentInterface,
  componentCreateBody,
  componentPatch,
  describeFields,
  interfaceAction,
  pairInterfaces,
  payloadChanges,
  typeLabel,
  type WantedBootParams,
  type WantedComponent,
  type WantedInterface,
  type WantedPayload,
} from "../workflows/node-plan";
import {
  exitCodeOf,
  runSteps,
  STEP_COLUMNS,
  type Step,
  type StepsReport,
  summaryLine,
} from "../workflows/steps";

type ProvisionArgs = GlobalOptions & {
  id: string;
  type?: string;
  role?: string;
  "sub-role"?: string;
  nid?: number;
  state?: string;
  mac?: string[];
  ip?: string[];
  kernel: string;
  initrd?: string;
  params?: string;
  "user-data"?: string;
  "meta-data"?: string;
  meta?: string[];
  "dry-run"?: boolean;
};

type DecommissionArgs = GlobalOptions & { id: string; "dry-run"?: boolean; delete?: boolean };

const EXIT_RULES = `Steps run in order and stop at the first failure; the report lists every step
(done, skipped, would, failed) with the API's error for the failed one.
Exit codes: 0 every step done or skipped; 4 a step failed after an earlier
step changed something (partial: fix the cause and run the command again,
it picks up where it stopped); 1 a step failed before anything changed
(3 if that was a 401/403); 2 bad flags or an unreadable file (nothing is sent).
Output: a table on a terminal, else JSON {command, id, dryRun, ok, steps: [...]} (-o).`;

/** `"etag"` for If-Match. */
const quoted = (etag: string) => `"${etag}"`;

/** The API's answer, or undefined for a 404; other errors throw an ApiProblem. */
async function found<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T | undefined> {
  const { data, error, response } = await call;
  if (response.status === 404) return undefined;
  if (!response.ok) throw new ApiProblem(response.status, error, response.statusText);
  return data as T;
}

function metaDataOf(a: ProvisionArgs, cli: Cli): Record<string, unknown> | undefined {
  if (a["meta-data"] === undefined && !a.meta?.length) return undefined;
  const fromFile = a["meta-data"] === undefined ? {} : readDocument(a["meta-data"], cli.io.stdin);
  if (typeof fromFile !== "object" || fromFile === null || Array.isArray(fromFile))
    throw new CliError(EXIT.usage, `--meta-data ${a["meta-data"]} must hold one mapping (key: value)`);
  return { ...(fromFile as Record<string, unknown>), ...setPairs(a.meta) };
}

// ---------- provision ----------

function provisionSteps(
  api: ApiClient,
  id: string,
  want: WantedComponent,
  ifaces: WantedInterface[],
  boot: WantedBootParams,
  payload: WantedPayload | undefined,
): Step[] {
  let createdNow = false;
  let existed = false;
  const steps: Step[] = [
    {
      name: "component",
      what: "create or update the component",
      async run(dryRun) {
        const current = await found(api.GET("/hsm/v2/State/Components/{id}", { params: { path: { id } } }));
        if (!current) {
          const body = componentCreateBody(id, want, ifaces);
          const fields = describeFields({
            type: typeLabel(id, want.type),
            state: body.state,
            ...(want.role !== undefined ? { role: want.role } : {}),
            ...(want.nid !== undefined ? { nid: want.nid } : {}),
          });
          const with_ = ifaces.length ? ` with ${ifaces.length} interface(s)` : "";
          if (dryRun) return { status: "would", detail: `would create it (${fields})${with_}` };
          // The flags are strings; the API checks type and role (a 422 names the field).
          await unwrap(api.POST("/hsm/v2/State/Components", { body: body as Schemas["ComponentCreate"] }));
          createdNow = true;
          return { status: "done", detail: `created (${fields})${with_}` };
        }
        existed = true;
        const patch = componentPatch(current.spec as Record<string, unknown>, want);
        if (Object.keys(patch).length === 0)
          return { status: "skipped", detail: "exists; the given fields already match" };
        const before = describeFields(
          Object.fromEntries(
            Object.keys(patch).map((k) => [k, (current.spec as Record<string, unknown>)[k]]),
          ),
        );
        if (dryRun)
          return { status: "would", detail: `would update ${describeFields(patch)} (now ${before})` };
        await unwrap(
          api.PATCH("/hsm/v2/State/Components/{id}", {
            params: { path: { id } },
            body: patch,
            headers: {
              "Content-Type": "application/merge-patch+json",
              "If-Match": quoted(current.metadata.etag),
            },
          }),
        );
        return { status: "done", detail: `updated ${describeFields(patch)} (was ${before})` };
      },
    },
  ];
  if (ifaces.length)
    steps.push({
      name: "interfaces",
      what: "add or update its interfaces",
      async run(dryRun) {
        if (createdNow) return { status: "done", detail: "created with the component" };
        if (!existed) return { status: "would", detail: "would be created with the component" };
        const done: string[] = [];
        const kept: string[] = [];
        for (const want of ifaces) {
          const { data } = await unwrap(
            api.GET("/hsm/v2/Inventory/EthernetInterfaces", {
              params: { query: { macAddress: want.macAddress } },
            }),
          );
          const current = data.items[0]?.spec as CurrentInterface | undefined;
          const action = interfaceAction(id, want, current);
          const ips = want.ipAddresses?.map((x) => x.ipAddress).join(",") || "no address";
          if (action.kind === "taken")
            throw new CliError(
              EXIT.failed,
              `MAC ${action.mac} belongs to interface ${action.id} of component ${action.componentId}; move or delete it first`,
            );
          if (action.kind === "keep") {
            kept.push(want.macAddress);
            continue;
          }
          if (action.kind === "create") {
            if (!dryRun)
              await unwrap(
                api.POST("/hsm/v2/Inventory/EthernetInterfaces", {
                  body: {
                    componentId: id,
                    macAddress: want.macAddress,
                    ...(want.ipAddresses ? { ipAddresses: want.ipAddresses } : {}),
                  },
                }),
              );
            done.push(`${dryRun ? "would add" : "added"} ${want.macAddress} (${ips})`);
          } else {
            if (!dryRun)
              await unwrap(
                api.PATCH("/hsm/v2/Inventory/EthernetInterfaces/{id}", {
                  params: { path: { id: action.id } },
                  body: { ipAddresses: want.ipAddresses },
                  headers: { "Content-Type": "application/merge-patch+json" },
                }),
              );
            done.push(`${dryRun ? "would set" : "set"} ${want.macAddress} to ${ips}`);
          }
        }
        if (!done.length) return { status: "skipped", detail: `already there (${kept.join(", ")})` };
        return {
          status: dryRun ? "would" : "done",
          detail: [...done, ...(kept.length ? [`kept ${kept.join(", ")}`] : [])].join("; "),
        };
      },
    });
  steps.push({
    name: "boot-params",
    what: "create or replace its boot parameters",
    async run(dryRun) {
      const { data } = await unwrap(
        api.GET("/boot/v1/bootparams", { params: { query: { componentId: id } } }),
      );
      const current = data.items[0];
      const body = { componentId: id, ...boot };
      const kernel = `kernel ${boot.kernelUri}${boot.initrdUri ? `, initrd ${boot.initrdUri}` : ""}`;
      if (!current) {
        if (dryRun) return { status: "would", detail: `would create them (${kernel})` };
        const { data: made } = await unwrap(api.POST("/boot/v1/bootparams", { body: body }));
        return { status: "done", detail: `created ${made.metadata.id} (${kernel})` };
      }
      const pid = current.metadata.id;
      const changes = bootParamsChanges(
        current.spec as { kernelUri: string; initrdUri: string; cmdline: string },
        boot,
      );
      if (!changes.length) return { status: "skipped", detail: `${pid} already has these values` };
      if (dryRun) return { status: "would", detail: `would replace ${pid} (${changes.join(", ")} change)` };
      await unwrap(
        api.PUT("/boot/v1/bootparams/{id}", {
          params: { path: { id: pid } },
          body: body,
          headers: { "If-Match": quoted(current.metadata.etag) },
        }),
      );
      return { status: "done", detail: `replaced ${pid} (${changes.join(", ")} changed)` };
    },
  });
  steps.push({
    name: "cloud-init",
    what: "create or update its cloud-init payload",
    async run(dryRun) {
      if (!payload) return { status: "skipped", detail: "no --user-data or --meta-data given" };
      const { data } = await unwrap(
        api.GET("/cloud-init/payloads", { params: { query: { componentId: id } } }),
      );
      const current = data.items[0];
      const fields = Object.keys(payload).join(", ");
      if (!current) {
        if (dryRun) return { status: "would", detail: `would create it (${fields})` };
        const { data: made } = await unwrap(
          api.POST("/cloud-init/payloads", { body: { componentId: id, ...payload } }),
        );
        return { status: "done", detail: `created ${made.metadata.id} (${fields})` };
      }
      const pid = current.metadata.id;
      const spec = current.spec as {
        userData: string | null;
        metaData: Record<string, unknown> | null;
        vendorData: string | null;
        bindToAddress: boolean;
      };
      const changes = payloadChanges(spec, payload);
      if (!changes.length) return { status: "skipped", detail: `${pid} already has these values` };
      if (dryRun) return { status: "would", detail: `would replace ${changes.join(", ")} of ${pid}` };
      // A replace of the given documents; what was not given (vendor-data, …) is kept as it is.
      await unwrap(
        api.PUT("/cloud-init/payloads/{id}", {
          params: { path: { id: pid } },
          body: {
            componentId: id,
            userData: payload.userData ?? spec.userData,
            metaData: payload.metaData ?? spec.metaData ?? undefined,
            vendorData: spec.vendorData,
            bindToAddress: spec.bindToAddress,
          },
          headers: { "If-Match": quoted(current.metadata.etag) },
        }),
      );
      return { status: "done", detail: `replaced ${changes.join(", ")} of ${pid}` };
    },
  });
  return steps;
}

// ---------- decommission ----------

function decommissionSteps(api: ApiClient, id: string, remove: boolean): Step[] {
  return [
    {
      name: "cloud-init",
      what: "delete its cloud-init payload",
      async run(dryRun) {
        const { data } = await unwrap(
          api.GET("/cloud-init/payloads", { params: { query: { componentId: id } } }),
        );
        const ids = data.items.map((p) => p.metadata.id);
        if (!ids.length) return { status: "skipped", detail: "none" };
        if (dryRun) return { status: "would", detail: `would delete ${ids.join(", ")}` };
        for (const pid of ids)
          await unwrap(api.DELETE("/cloud-init/payloads/{id}", { params: { path: { id: pid } } }));
        return { status: "done", detail: `deleted ${ids.join(", ")}` };
      },
    },
    {
      name: "boot-params",
      what: "delete its boot parameters",
      async run(dryRun) {
        const { data } = await unwrap(
          api.GET("/boot/v1/bootparams", { params: { query: { componentId: id } } }),
        );
        const ids = data.items.map((p) => p.metadata.id);
        if (!ids.length) return { status: "skipped", detail: "none" };
        if (dryRun) return { status: "would", detail: `would delete ${ids.join(", ")}` };
        for (const pid of ids)
          await unwrap(api.DELETE("/boot/v1/bootparams/{id}", { params: { path: { id: pid } } }));
        return { status: "done", detail: `deleted ${ids.join(", ")}` };
      },
    },
    {
      name: "component",
      what: remove ? "delete the component" : "set its state to Empty",
      async run(dryRun) {
        const { data: current } = await unwrap(
          api.GET("/hsm/v2/State/Components/{id}", { params: { path: { id } } }),
        );
        if (remove) {
          if (dryRun) return { status: "would", detail: "would delete it (with its interfaces)" };
          await unwrap(api.DELETE("/hsm/v2/State/Components/{id}", { params: { path: { id } } }));
          return { status: "done", detail: "deleted (with its interfaces and group memberships)" };
        }
        const state = (current.spec as { state: string }).state;
        if (state === "Empty") return { status: "skipped", detail: "state is already Empty" };
        if (dryRun) return { status: "would", detail: `would set state ${state} → Empty` };
        await unwrap(
          api.PATCH("/hsm/v2/State/Components/{id}", {
            params: { path: { id } },
            body: { state: "Empty" },
            headers: {
              "Content-Type": "application/merge-patch+json",
              "If-Match": quoted(current.metadata.etag),
            },
          }),
        );
        return { status: "done", detail: `state ${state} → Empty` };
      },
    },
  ];
}

// ---------- output ----------

function report(cli: Cli, a: GlobalOptions, r: StepsReport, verb: string) {
  const printer = cli.printer(a);
  if (printer.format === "table") {
    printer.print(
      r.steps.map((s, i) => ({ n: i + 1, ...s })),
      STEP_COLUMNS,
    );
    printer.out(summaryLine(r, verb));
  } else printer.print(r);
  cli.exitCode = exitCodeOf(r);
}

export const nodeCommands: CommandModule = (y: Argv, cli: Cli) =>
  y.command("node", "composite workflows for one node: provision and decommission", (g) =>
    g
      .usage(
        "$0 node <command>\n\nSet a node up across the inventory, the boot service and cloud-init, or undo it.",
      )
      .demandCommand(1, "say which node command (provision or decommission)")
      .example("$0 node provision x1000c0s0b0n0 --kernel http://img/vmlinuz", "set a node up to boot")
      .example("$0 node decommission x1000c0s0b0n0", "undo it")
      .command(
        "provision <id>",
        "create or update the component, then create or replace its boot parameters and cloud-init payload",
        (c) =>
          c
            .usage(
              `$0 node provision <id> --kernel URI [options]

1. component: created if it does not exist (with the --mac interfaces), else
   the given fields (--type, --role, --sub-role, --nid, --state) are updated;
   without --state, a new or Empty (decommissioned) component is set
   Populated and any other state is left alone
2. interfaces (with --mac): each MAC added to the component, or its
   addresses set to --ip (only when the component already existed)
3. boot-params: the component's own boot parameters created, or replaced
   (absent --initrd and --params then mean none)
4. cloud-init: with --user-data/--meta-data/--meta, its payload created or
   those documents replaced (others, e.g. vendor-data, are kept)
Each step reads first and does nothing when the values already match:
running it again is safe.`,
            )
            .positional("id", { type: "string", describe: "component id (an xname or any valid id)" })
            .option("type", {
              type: "string",
              describe: "component type (default: what an xname implies, else Node)",
            })
            .option("role", { type: "string", describe: "role, e.g. Compute" })
            .option("sub-role", { type: "string", describe: "sub-role, e.g. Worker" })
            .option("nid", { type: "number", describe: "node id (numeric)" })
            .option("state", {
              type: "string",
              describe: "state to set (default: Populated when new or Empty; other states are kept)",
            })
            .option("mac", { type: "string", array: true, describe: "a MAC of the node (repeatable)" })
            .option("ip", {
              type: "string",
              array: true,
              describe: "address(es) of the --mac at the same position (repeatable; a,b for several)",
            })
            .option("kernel", { type: "string", demandOption: true, describe: "kernel URI" })
            .option("initrd", { type: "string", describe: "initrd URI" })
            .option("params", { alias: "cmdline", type: "string", describe: "kernel command line" })
            .option("user-data", { type: "string", describe: "cloud-init user-data file ('-' reads stdin)" })
            .option("meta-data", {
              type: "string",
              describe: "cloud-init meta-data file (JSON or YAML mapping)",
            })
            .option("meta", {
              type: "string",
              array: true,
              describe: "meta-data key=value (repeatable; over --meta-data)",
            })
            .option("dry-run", { type: "boolean", describe: "show the plan; change nothing" })
            .example(
              "$0 node provision x1000c0s0b0n0 --role Compute --mac a4:bf:01:38:ee:65 --ip 10.1.0.1 --kernel http://img/vmlinuz --user-data ci.yaml",
              "set up one node",
            )
            .example(
              "$0 node provision x1000c0s0b0n0 --kernel http://img/vmlinuz-6.6 --dry-run",
              "what a new kernel would change",
            )
            .epilogue(EXIT_RULES),
        run<ProvisionArgs>(async (a) => {
          const ifaces = pairInterfaces(a.mac, a.ip);
          if (a.nid !== undefined && (!Number.isInteger(a.nid) || a.nid < 0))
            throw new CliError(EXIT.usage, `--nid must be a whole number ≥ 0, not ${a.nid}`);
          const metaData = metaDataOf(a, cli);
          const userData = a["user-data"] === undefined ? undefined : readText(a["user-data"], cli.io.stdin);
          const payload: WantedPayload | undefined =
            userData === undefined && metaData === undefined
              ? undefined
              : {
                  ...(userData !== undefined ? { userData } : {}),
                  ...(metaData !== undefined ? { metaData } : {}),
                };
          const want: WantedComponent = {
            ...(a.type !== undefined ? { type: a.type } : {}),
            ...(a.role !== undefined ? { role: a.role } : {}),
            ...(a["sub-role"] !== undefined ? { subRole: a["sub-role"] } : {}),
            ...(a.nid !== undefined ? { nid: a.nid } : {}),
            ...(a.state !== undefined ? { state: a.state } : {}),
          };
          const boot = { kernelUri: a.kernel, initrdUri: a.initrd ?? "", cmdline: a.params ?? "" };
          const api = cli.session(a).client;
          const r = await runSteps(
            "provision",
            a.id,
            provisionSteps(api, a.id, want, ifaces, boot, payload),
            !!a["dry-run"],
          );
          report(cli, a, r, "provisioned");
        }),
      )
      .command(
        "decommission <id>",
        "delete the node's cloud-init payload and boot parameters, then set its state to Empty (or delete it)",
        (c) =>
          c
            .usage(
              `$0 node decommission <id> [--delete] [--dry-run]

1. cloud-init: the payload(s) targeting the component deleted
2. boot-params: the component's own boot parameters deleted
3. component: its state set to Empty, or with --delete the component
   deleted (with its interfaces and group memberships)
Group and role payloads and boot parameters are left alone. Running it
again is safe: steps with nothing left to do are skipped.`,
            )
            .positional("id", { type: "string", describe: "component id" })
            .option("delete", {
              type: "boolean",
              describe: "delete the component instead of setting it Empty",
            })
            .option("dry-run", { type: "boolean", describe: "show the plan; change nothing" })
            .example(
              "$0 node decommission x1000c0s0b0n0",
              "take a node out of service, keep it in the inventory",
            )
            .example("$0 node decommission x1000c0s0b0n0 --delete --dry-run", "what removing it would do")
            .epilogue(EXIT_RULES),
        run<DecommissionArgs>(async (a) => {
          const api = cli.session(a).client;
          const r = await runSteps(
            "decommission",
            a.id,
            decommissionSteps(api, a.id, !!a.delete),
            !!a["dry-run"],
          );
          report(cli, a, r, a.delete ? "deleted" : "decommissioned");
        }),
      ),
  );
