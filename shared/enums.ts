/** The inventory enums' zod schemas, over their values (./enum-values.ts). */
import { z } from "@hono/zod-openapi";

import { ARCHES, COMPONENT_TYPES, FLAGS, NET_TYPES, ROLES, STATES, SUB_ROLES } from "./enum-values";

export { ARCHES, COMPONENT_TYPES, FLAGS, NET_TYPES, ROLES, STATES, SUB_ROLES };

export const ComponentTypeSchema = z.enum(COMPONENT_TYPES).openapi("ComponentType");
export const StateSchema = z.enum(STATES).openapi("State");
export const RoleSchema = z.enum(ROLES).openapi("Role");
export const SubRoleSchema = z.enum(SUB_ROLES).openapi("SubRole");
export const FlagSchema = z.enum(FLAGS).openapi("Flag");
export const ArchSchema = z.enum(ARCHES).openapi("Arch");
export const NetTypeSchema = z.enum(NET_TYPES).openapi("NetType");

export type ComponentType = (typeof COMPONENT_TYPES)[number];
export type State = (typeof STATES)[number];
export type Role = (typeof ROLES)[number];
