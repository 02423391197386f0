/**
 * The MCP server's mode: read-only unless both `CHAMICORE_MCP_MODE=read-write`
 * and `CHAMICORE_MCP_ENABLE_WRITE=true` say otherwise, so that one stray
 * variable cannot hand an agent the power switch.
 */
import { ConfigError } from "../config";
import type { McpMode } from "./catalog";

export type { McpMode };

/** Where the control plane serves MCP over streamable HTTP. */
export const MCP_PATH = "/mcp";

export function mcpModeOf(env: Record<string, string | undefined>): McpMode {
  const mode = env.CHAMICORE_MCP_MODE?.trim() || "read-only";
  if (mode !== "read-only" && mode !== "read-write")
    throw new ConfigError(`CHAMICORE_MCP_MODE: '${mode}' is neither read-only nor read-write`);
  if (mode === "read-write" && env.CHAMICORE_MCP_ENABLE_WRITE?.trim() !== "true")
    throw new ConfigError(
      "CHAMICORE_MCP_MODE=read-write needs CHAMICORE_MCP_ENABLE_WRITE=true as well: write tools stay off otherwise",
    );
  return mode;
}
