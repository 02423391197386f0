import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./control/db/schema.ts",
  out: "./migrations/postgres",
});
