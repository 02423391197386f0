/**
 * A database whose transactions are spans (`db.transaction`) of whatever
 * runs them: a change's trace shows its transaction, and the outbox rows
 * written in it carry the transaction's traceparent, so the relay's publish
 * is its child (shared/tracing.ts). Without a tracing SDK the wrapper costs
 * one no-op span call per transaction.
 */
import { inSpan, SpanKind } from "../../shared/tracing";
import type { Db } from "./types";

export function traced(db: Db): Db {
  const transaction = db.transaction.bind(db);
  const spanned: Db["transaction"] = (fn, config) =>
    inSpan("db.transaction", { "db.system.name": "postgresql" }, () => transaction(fn, config), {
      kind: SpanKind.CLIENT,
    });
  return new Proxy(db, {
    get: (target, prop, receiver) => (prop === "transaction" ? spanned : Reflect.get(target, prop, receiver)),
  });
}
