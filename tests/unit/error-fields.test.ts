/**
 * What a log line says about a failed statement: real errors from a real
 * (embedded) Postgres through the ORM, described without their parameters.
 */
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseFault, isConnectionFault } from "../../control/db/faults";
import { errorFields, statementOf } from "../../shared/error-fields";

const SECRET = "secret-user-data-7f1c";
let client: PGlite;
let db: ReturnType<typeof drizzle>;

beforeAll(async () => {
  client = await PGlite.create();
  db = drizzle(client);
  await db.execute(sql`create schema app`);
  await db.execute(
    sql`create table app.notes (id int primary key, body text check (body not like '%secret%'))`,
  );
});
afterAll(() => client.close());

const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable("the statement succeeded"),
    (e: unknown) => e,
  );

describe("errorFields", () => {
  it("names the SQLSTATE, the statement and the table of a refused insert, not its parameters", async () => {
    const e = await failure(db.execute(sql`insert into "app"."notes" (id, body) values (${1}, ${SECRET})`));
    expect(String((e as Error).message)).toContain(SECRET);
    const fields = errorFields(e, true);
    expect(JSON.stringify(fields)).not.toContain(SECRET);
    expect(fields).toMatchObject({ code: "23514", statement: "insert app.notes", table: "notes" });
    expect(fields.err).toMatch(/violates check constraint/);
  });

  it("cuts a data exception's message before the value it quotes", async () => {
    const e = await failure(db.execute(sql`select ${SECRET}::uuid`));
    const fields = errorFields(e);
    expect(JSON.stringify(fields)).not.toContain(SECRET);
    expect(fields).toMatchObject({ code: "22P02", err: "invalid input syntax for type uuid" });
  });

  it("keeps an ordinary error's message", () => {
    expect(errorFields(new TypeError("x is not a function"))).toEqual({ err: "x is not a function" });
  });

  it("reads the verb and the first table of a statement", () => {
    expect(statementOf('update "smd"."components" set "state" = $1 where "id" = $2')).toBe(
      "update smd.components",
    );
    expect(statementOf('select "id" from "auth"."revocations" where "jti" = $1')).toBe(
      "select auth.revocations",
    );
    expect(statementOf("begin")).toBe("begin");
  });
});

describe("isConnectionFault", () => {
  it("tells a lost connection from a bug", async () => {
    const constraint = await failure(db.execute(sql`insert into app.notes values (${1}, ${"a secret"})`));
    expect(isConnectionFault(constraint)).toBe(false);
    expect(databaseFault(constraint)).toBeUndefined();
    for (const e of [
      Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }),
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }),
      new Error("Connection terminated unexpectedly"),
      new Error("Client has encountered a connection error and is not queryable"),
      new Error("timeout exceeded when trying to connect"),
      new AggregateError([Object.assign(new Error("refused"), { code: "ECONNREFUSED" })]),
      new Error("Failed query: commit\nparams: ", {
        cause: Object.assign(new Error("x"), { code: "08006" }),
      }),
    ])
      expect(isConnectionFault(e), e.message).toBe(true);
    const problem = databaseFault(new Error("Connection terminated unexpectedly"));
    expect(problem?.status).toBe(503);
    expect(Number(problem?.headers?.["Retry-After"])).toBeGreaterThan(0);
  });
});
