/**
 * Casbin over the project's drizzle schema: the RBAC model of Chamicore and
 * an adapter that keeps its `p` and `g` lines in `auth.casbin_rules`.
 */
import { type Adapter, type Enforcer, type Model, newEnforcer, newModelFromString } from "casbin";
import { and, eq, type SQL } from "drizzle-orm";
import { randomHex } from "../../../shared/ids";
import { casbinRules } from "../../db/schema";
import type { Db } from "../../db/types";

/**
 * `p, role, scope-pattern` grants a scope (patterns are globs: `read:*`, `*`);
 * `g, subject, role` makes a subject (service account id or external
 * subject) a member of a role; roles may be members of roles.
 */
export const RBAC_MODEL = `
[request_definition]
r = sub, scope

[policy_definition]
p = sub, scope

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && globMatch(r.scope, p.scope)
`;

const FIELDS = [casbinRules.v0, casbinRules.v1, casbinRules.v2] as const;

export class DrizzleCasbinAdapter implements Adapter {
  constructor(private readonly db: Db) {}

  async loadPolicy(model: Model): Promise<void> {
    const rows = await this.db.select().from(casbinRules).orderBy(casbinRules.createdAt, casbinRules.id);
    for (const r of rows) {
      const values = [r.v0, r.v1, r.v2].filter((v) => v !== "");
      // Straight into the model: Helper.loadPolicyLine would join the values into a CSV line and parse it
      // again, so that a subject holding a quote, comma or parenthesis broke every later load (a 500).
      model.model.get(r.ptype.slice(0, 1))?.get(r.ptype)?.policy.push(values);
    }
  }

  async savePolicy(model: Model): Promise<boolean> {
    const lines: { ptype: string; rule: string[] }[] = [];
    for (const sec of ["p", "g"])
      for (const [ptype, ast] of model.model.get(sec) ?? new Map())
        for (const rule of ast.policy) lines.push({ ptype, rule });
    await this.db.transaction(async (tx) => {
      await tx.delete(casbinRules);
      for (const l of lines)
        await tx.insert(casbinRules).values(rowOf(l.ptype, l.rule)).onConflictDoNothing();
    });
    return true;
  }

  async addPolicy(_sec: string, ptype: string, rule: string[]): Promise<void> {
    await this.db.insert(casbinRules).values(rowOf(ptype, rule)).onConflictDoNothing();
  }

  async removePolicy(_sec: string, ptype: string, rule: string[]): Promise<void> {
    await this.db.delete(casbinRules).where(matching(ptype, 0, rule));
  }

  async removeFilteredPolicy(_sec: string, ptype: string, fieldIndex: number, ...values: string[]) {
    await this.db.delete(casbinRules).where(matching(ptype, fieldIndex, values));
  }
}

function rowOf(ptype: string, rule: string[]) {
  if (rule.length < 2 || rule.length > 3)
    throw new Error(`casbin rule of ${rule.length} fields is not stored`);
  return {
    id: `${ptype}-${randomHex(8)}`,
    ptype,
    v0: rule[0]!,
    v1: rule[1]!,
    v2: rule[2] ?? "",
  };
}

/** Rows of `ptype` whose fields from `fieldIndex` on equal `values` ("" matches anything, as Casbin says). */
function matching(ptype: string, fieldIndex: number, values: string[]) {
  const parts: SQL[] = [eq(casbinRules.ptype, ptype)];
  values.forEach((v, i) => {
    const col = FIELDS[fieldIndex + i];
    if (col && v !== "") parts.push(eq(col, v));
  });
  return and(...parts)!;
}

export async function enforcerFor(db: Db): Promise<Enforcer> {
  const enforcer = await newEnforcer(newModelFromString(RBAC_MODEL), new DrizzleCasbinAdapter(db));
  enforcer.enableAutoSave(true);
  return enforcer;
}
