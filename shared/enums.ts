/**
 * Inventory enums, with the values OpenCHAMI SMD (HMS base) uses, plus the
 * generic types of the Chamicore plan (BMC, PDU, Switch, NIC, Accelerator)
 * for sites that do not use xnames.
 */
import { z } from "@hono/zod-openapi";

export const COMPONENT_TYPES = [
  // generic
  "BMC",
  "PDU",
  "Switch",
  "NIC",
  "Accelerator",
  // HMS xname types
  "CDU",
  "CDUMgmtSwitch",
  "CabinetCDU",
  "Cabinet",
  "CabinetBMC",
  "CabinetPDUController",
  "CabinetPDU",
  "CabinetPDUNic",
  "CabinetPDUOutlet",
  "CabinetPDUPowerConnector",
  "Chassis",
  "ChassisBMC",
  "ChassisBMCNic",
  "CMMFpga",
  "CMMRectifier",
  "ComputeModule",
  "Drive",
  "StorageGroup",
  "HSNAsic",
  "HSNBoard",
  "HSNConnector",
  "HSNConnectorPort",
  "HSNLink",
  "MgmtSwitch",
  "MgmtHLSwitchEnclosure",
  "MgmtHLSwitch",
  "MgmtSwitchConnector",
  "Memory",
  "Node",
  "NodeAccel",
  "NodeAccelRiser",
  "NodeBMC",
  "NodeBMCNic",
  "NodeEnclosure",
  "NodeEnclosurePowerSupply",
  "NodeFpga",
  "NodeHsnNic",
  "NodeNic",
  "NodePowerConnector",
  "Processor",
  "RouterBMC",
  "RouterBMCNic",
  "RouterFpga",
  "RouterModule",
  "RouterPowerConnector",
  "RouterTOR",
  "RouterTORFpga",
  "SMSBox",
  "System",
  "VirtualNode",
] as const;

export const STATES = ["Unknown", "Empty", "Populated", "Off", "On", "Standby", "Halt", "Ready"] as const;
export const ROLES = ["Compute", "Service", "System", "Application", "Storage", "Management"] as const;
export const SUB_ROLES = [
  "Worker",
  "Master",
  "Storage",
  "UAN",
  "Gateway",
  "LNETRouter",
  "Visualization",
  "UserDefined",
] as const;
export const FLAGS = ["OK", "Warning", "Alert", "Locked", "Unknown"] as const;
export const ARCHES = ["X86", "ARM", "Other", "UNKNOWN"] as const;
export const NET_TYPES = ["Sling", "Infiniband", "Ethernet", "OEM", "None"] as const;

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
