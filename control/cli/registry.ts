/**
 * The operator command groups, in --help order: one module per service area
 * under commands/, each a `CommandModule`.
 */
import { authAdminCommands } from "./commands/auth-admin";
import { bssCommands } from "./commands/bss";
import { cloudInitCommands } from "./commands/cloud-init";
import { importCommands } from "./commands/import";
import { nodeCommands } from "./commands/node";
import { smdCommands } from "./commands/smd";
import { registerAuthCommands, registerCommands } from "./main";

registerCommands(smdCommands, bssCommands, cloudInitCommands, nodeCommands, importCommands);
registerAuthCommands(authAdminCommands);
