/**
 * PolicyStore: role policies and memberships through a Casbin enforcer
 * backed by auth.casbin_rules. Changes go through the enforcer (and so the
 * adapter), and each call loads the current rules, so every instance sees
 * the same policy without a watcher.
 */
import { and, eq } from "drizzle-orm";
import type { Policy, Role } from "../../../functions/auth/schemas";
import type { PolicyStore } from "../../../functions/auth/store";
import type { Stored } from "../../../shared/envelope";
import { ApiError, notFound } from "../../../shared/problem";
import { casbinRules } from "../../db/schema";
import type { Db } from "../../db/types";
import { enforcerFor } from "./casbin";

type Row = typeof casbinRules.$inferSelect;

const policyOf = (r: Row): Stored<Policy> => ({
  id: r.id,
  etag: r.id,
  createdAt: r.createdAt,
  updatedAt: r.createdAt,
  spec: { role: r.v0, scope: r.v1 },
});

export class PgPolicyStore implements PolicyStore {
  constructor(private readonly db: Db) {}

  private rules(ptype: "p" | "g") {
    return this.db
      .select()
      .from(casbinRules)
      .where(eq(casbinRules.ptype, ptype))
      .orderBy(casbinRules.v0, casbinRules.v1);
  }

  async listPolicies(): Promise<Stored<Policy>[]> {
    return (await this.rules("p")).map(policyOf);
  }

  async addPolicy(p: Policy): Promise<Stored<Policy>> {
    const e = await enforcerFor(this.db);
    if (!(await e.addPolicy(p.role, p.scope)))
      throw new ApiError("conflict", `role '${p.role}' already has the scope '${p.scope}'`);
    const [row] = await this.db
      .select()
      .from(casbinRules)
      .where(and(eq(casbinRules.ptype, "p"), eq(casbinRules.v0, p.role), eq(casbinRules.v1, p.scope)));
    return policyOf(row!);
  }

  async removePolicy(id: string): Promise<void> {
    const [row] = await this.db
      .select()
      .from(casbinRules)
      .where(and(eq(casbinRules.ptype, "p"), eq(casbinRules.id, id)));
    if (!row) throw notFound("policy", id);
    await (await enforcerFor(this.db)).removePolicy(row.v0, row.v1);
  }

  async listRoles(): Promise<Role[]> {
    const roles = new Map<string, Role>();
    const role = (name: string) => {
      const r = roles.get(name) ?? { name, scopes: [], members: [] };
      roles.set(name, r);
      return r;
    };
    for (const p of await this.rules("p")) role(p.v0).scopes.push(p.v1);
    for (const g of await this.rules("g")) role(g.v1).members.push(g.v0);
    for (const r of roles.values()) r.members.sort();
    return [...roles.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  private async role(name: string): Promise<Role> {
    const r = (await this.listRoles()).find((x) => x.name === name);
    return r ?? { name, scopes: [], members: [] };
  }

  async addMember(role: string, subject: string): Promise<Role> {
    await (await enforcerFor(this.db)).addGroupingPolicy(subject, role);
    return this.role(role);
  }

  async removeMember(role: string, subject: string): Promise<void> {
    const e = await enforcerFor(this.db);
    if (!(await e.removeGroupingPolicy(subject, role)))
      throw new ApiError("not-found", `'${subject}' is not a member of role '${role}'`);
  }

  async grants(subject: string, extraRoles: string[], catalog: string[]) {
    const e = await enforcerFor(this.db);
    const roles = new Set(await e.getImplicitRolesForUser(subject));
    for (const r of extraRoles) {
      roles.add(r);
      for (const inherited of await e.getImplicitRolesForUser(r)) roles.add(inherited);
    }
    const who = [subject, ...extraRoles];
    const scopes: string[] = [];
    for (const s of catalog) {
      for (const sub of who) {
        if (await e.enforce(sub, s)) {
          scopes.push(s);
          break;
        }
      }
    }
    return { roles: [...roles].sort(), scopes };
  }
}
