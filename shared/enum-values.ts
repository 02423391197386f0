/**
 * Inventory enums, with the values OpenCHAMI SMD (HMS base) uses, plus the
 * generic types of the Chamicore plan (BMC, PDU, Switch, NIC, Accelerator)
 * for sites that do not use xnames. The values alone, without zod, so that
 * the web UI's bundle can take them (their schemas: ./enums.ts).
 */
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
