/**
 * NoCloud serving, unauthenticated (a booting node has no token):
 * `/cloud-init/{id}/user-data|meta-data|vendor-data` for a named component,
 * and `/cloud-init/user-data|meta-data|vendor-data` for the caller itself,
 * found by `?mac=` or by its source address among the inventory's interface
 * addresses (X-Forwarded-For believed only from CHAMICORE_TRUSTED_PROXIES).
 *
 * The handlers use only the `CloudInitReadStore` port, so an edge node
 * serves the same routes from its SQLite replica.
 */
import { type OpenAPIHono, type RouteHandler, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError, notFound } from "../../shared/problem";
import type { AppEnv } from "../env";
import { IdSchema, MacInputSchema } from "../inventory/schemas";
import { defineRoute, problems } from "../route";
import { callerOf, callingNode } from "./caller";
import { layersOf, renderDocument, type Served } from "./merge";
import { phoneHome, phoneHomeRoute } from "./phone-home";
import type { DocumentName } from "./schemas";
import { DOCUMENTS } from "./schemas";
import { bindingAllows } from "./service";
import type { CloudInitReadStore, NodeFacts } from "./store";

const tags = ["cloud-init"];

const MetaDataDocSchema = z
  .object({
    "instance-id": z.string().openapi({ example: "iid-x1000c0s0b0n0" }),
    "local-hostname": z.string().openapi({ example: "x1000c0s0b0n0" }),
    chamicore: z.object({
      id: z.string(),
      nid: z.number().int().nullable(),
      role: z.string().nullable(),
      groups: z.array(z.string()),
      addresses: z.array(
        z.object({ ipAddress: z.string(), network: z.string().nullable(), macAddress: z.string() }),
      ),
      macAddresses: z.array(z.string()),
    }),
  })
  .catchall(z.unknown())
  .openapi("CloudInitMetaData");

const DESCRIPTIONS: Record<DocumentName, { summary: string; description: string }> = {
  "user-data": {
    summary: "user-data",
    description:
      "The node's payloads merged (role, then its groups by name, then its own; see docs/cloud-init.md). `text/cloud-config` for #cloud-config, `text/plain` for other documents; with nothing configured, `#cloud-config` and an empty mapping.",
  },
  "vendor-data": {
    summary: "vendor-data",
    description: "Merged like user-data, from the payloads' vendorData.",
  },
  "meta-data": {
    summary: "meta-data (JSON, which cloud-init reads as YAML)",
    description:
      "`instance-id` (`iid-<component id>`, stable), `local-hostname` (the component id), the payloads' metaData merged over them, and the node's facts under `chamicore`. Keys sorted.",
  },
};

const contentOf = (name: DocumentName) =>
  name === "meta-data"
    ? { "application/json": { schema: MetaDataDocSchema } }
    : {
        "text/cloud-config": { schema: z.string().openapi({ example: "#cloud-config\n{}\n" }) },
        "text/plain": { schema: z.string() },
      };

const IdParam = z.object({ id: IdSchema.openapi({ param: { name: "id", in: "path" } }) });
const CallerQuery = z.object({
  mac: MacInputSchema.optional().openapi({
    param: { name: "mac", in: "query" },
    description: "Identify the node by this MAC instead of by the source address.",
  }),
});

/**
 * Document `name` of `node` for `caller` (its canonical address, undefined
 * when unknown): the node's payloads merged; a 403 ApiError when a payload
 * bound to the node's addresses contributes and the caller is not at one.
 */
export async function cloudInitDocument(
  store: CloudInitReadStore,
  name: DocumentName,
  node: NodeFacts,
  caller: string | undefined,
): Promise<Served> {
  const layers = layersOf(
    node,
    await store.payloadsFor({ componentId: node.id, groups: node.groups, role: node.role }),
  );
  if (!bindingAllows(name, node, layers, caller))
    throw new ApiError(
      "forbidden",
      `The ${name} of '${node.id}' is served only to the node's own addresses, and the caller is not at one of them`,
    );
  return renderDocument(name, node, layers);
}

/** no-store: user-data often carries secrets (keys, tokens) that no cache should keep. */
export const DOCUMENT_CACHE_CONTROL = "no-store";

async function serve(c: Context<AppEnv>, name: DocumentName, node: NodeFacts, caller: string | undefined) {
  const doc = await cloudInitDocument(c.var.stores.cloudInit, name, node, caller);
  c.var.deps.progress?.seen({ node: node.id, stage: name, address: caller });
  return c.body(doc.body, 200, { "Content-Type": doc.contentType, "Cache-Control": DOCUMENT_CACHE_CONTROL });
}

export function registerServing(app: OpenAPIHono<AppEnv>) {
  app.openapi(phoneHomeRoute, phoneHome);
  for (const name of DOCUMENTS) {
    const { summary, description } = DESCRIPTIONS[name];
    const byId = defineRoute("public", {
      method: "get",
      path: `/cloud-init/{id}/${name}`,
      tags,
      summary: `${summary} of a component`,
      description: `${description} A payload with bindToAddress is served only to the node's own addresses (403 otherwise).`,
      request: { params: IdParam },
      responses: { 200: { description: name, content: contentOf(name) }, ...problems(403, 404, 422) },
    });
    const byIdHandler: RouteHandler<typeof byId, AppEnv> = async (c) => {
      const { id } = c.req.valid("param");
      const node = await c.var.stores.cloudInit.nodeById(id);
      if (!node) throw notFound("component", id);
      return serve(c, name, node, callerOf(c)) as never;
    };
    app.openapi(byId, byIdHandler);

    const mine = defineRoute("public", {
      method: "get",
      path: `/cloud-init/${name}`,
      tags,
      summary: `${summary} of the calling node`,
      description: `${description} The node is the one named by \`?mac=\`, else the one holding the caller's source address (X-Forwarded-For is believed only from CHAMICORE_TRUSTED_PROXIES; 404 when no component holds the address, 409 when several do). With \`?mac=\`, a payload with bindToAddress is still served only to the node's own addresses (403).`,
      request: { query: CallerQuery },
      responses: { 200: { description: name, content: contentOf(name) }, ...problems(403, 404, 409, 422) },
    });
    const mineHandler: RouteHandler<typeof mine, AppEnv> = async (c) => {
      const { mac } = c.req.valid("query");
      const store = c.var.stores.cloudInit;
      const caller = callerOf(c);
      return serve(c, name, await callingNode(store, mac, caller), caller) as never;
    };
    app.openapi(mine, mineHandler);
  }
}
