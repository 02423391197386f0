import { defineConfig } from "drizzle-kit";

/** The edge node's SQLite replica: `npm run db:generate:edge`. */
export default defineConfig({
  dialect: "sqlite",
  schema: "./edge-node/replica/schema.ts",
  out: "./migrations/sqlite",
});
