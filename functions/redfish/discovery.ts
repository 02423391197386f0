import type { ComponentType, State } from "../../shared/enums";
import { parseXname } from "../../shared/ids";
import { normalizeMac } from "../../shared/mac";
import { checkDrafts, type Draft } from "./check";
import { enclosingChassis, type NamingOptions, nameBmc, nodeId } from "./naming";
import type { RedfishReader } from "./reader";
import {
  type ComponentImportItem,
  type DiscoveryProblem,
  defined,
  type RedfishManager,
  type RedfishNic,
  type RedfishService,
  readService,
  SERVICE_ROOT,
} from "./tree";

export type { ComponentImportItem, DiscoveryProblem } from "./tree";

/** What every discovery driver gives. */
export interface DiscoveryResult {
  /** Valid import items, parents before children. */
  components: ComponentImportItem[];
  /** What could not be read or used; the components are what remains. */
  problems: DiscoveryProblem[];
}

export interface ChassisInfo {
  redfish: string;
  chassisType?: string;
  manufacturer?: string;
  model?: string;
  serialNumber?: string;
}

/** What Redfish says about a component that the inventory has no field for. */
export interface HardwareInfo {
  /** The Redfish resource the component stands for. */
  redfish: string;
  name?: string;
  managerType?: string;
  manufacturer?: string;
  model?: string;
  serialNumber?: string;
  uuid?: string;
  firmwareVersion?: string;
  /** As Redfish says it (On, Off, PoweringOn, …). */
  powerState?: string;
  /** The Redfish chassis it is in. */
  chassis?: ChassisInfo;
}

export interface DiscoveredBmc {
  /** The BMC's component id; undefined when nothing names it (then there are no components). */
  id?: string;
  type: ComponentType;
  namedBy?: "map" | "rule" | "fallback";
  address?: string;
  /** The manager taken as the BMC. */
  manager?: string;
  serviceUuid?: string;
  redfishVersion?: string;
  /** Other managers of the service (blade BMCs behind an enclosure manager): not imported. */
  otherManagers: {
    redfish: string;
    managerType?: string;
    macs: string[];
    ipAddresses: string[];
    remoteService?: string;
  }[];
}

export interface BmcDiscovery extends DiscoveryResult {
  bmc: DiscoveredBmc;
  /** By component id. */
  hardware: Record<string, HardwareInfo>;
}

export interface DiscoverOptions {
  /** The scanned address (IP or host name): the naming map's key and the rule's IPv4. */
  address?: string;
  /** The BMC's position in the scan's target list, for `{index}` in a naming rule. */
  index?: number;
  naming?: NamingOptions;
}

/**
 * Discovers the BMC behind `reader`. Rejects only when the service root
 * cannot be read (with the reader's error); everything else that fails is
 * a problem in the result.
 */
export async function discoverBmc(reader: RedfishReader, opts: DiscoverOptions = {}): Promise<BmcDiscovery> {
  return componentsOf(await readService(reader), opts);
}

// ---------- from the service to components ----------

/** Redfish PowerState → inventory state; a transition counts as the state it leaves until a re-scan. */
const POWER_STATES: Record<string, State> = { On: "On", PoweringOff: "On", Off: "Off", PoweringOn: "Off" };
const stateOf = (powerState: string | undefined): State =>
  (powerState !== undefined ? POWER_STATES[powerState] : undefined) ?? "Populated";

/** The interfaces a DHCP server can see: not the host interface. */
const networkNics = (nics: RedfishNic[] | undefined) => (nics ?? []).filter((n) => !n.hostInterface);

/** Interfaces of one component: one per MAC, IPv4 addresses merged; NICs without a MAC are problems. */
function interfacesOf(nics: RedfishNic[], id: string, problems: DiscoveryProblem[]) {
  const byMac = new Map<
    string,
    { macAddress: string; ips: Set<string>; descriptions: string[]; paths: string[] }
  >();
  for (const nic of nics) {
    // A malformed MAC is kept as given: the schema check names it.
    const mac = nic.mac === undefined ? undefined : (normalizeMac(nic.mac) ?? nic.mac);
    if (mac === undefined || mac === "00:00:00:00:00:00") {
      problems.push({
        path: nic.path,
        id,
        field: "MACAddress",
        message: "reports no MAC: the interface is left out",
      });
      continue;
    }
    const seen = byMac.get(mac) ?? { macAddress: mac, ips: new Set(), descriptions: [], paths: [] };
    byMac.set(mac, seen);
    for (const ip of nic.ipv4) seen.ips.add(ip);
    if (nic.description && !seen.descriptions.includes(nic.description))
      seen.descriptions.push(nic.description);
    seen.paths.push(nic.path);
  }
  const list = [...byMac.values()];
  return {
    interfaces: list.map((f) =>
      defined({
        macAddress: f.macAddress,
        ipAddresses: f.ips.size ? [...f.ips].map((ipAddress) => ({ ipAddress })) : undefined,
        description: f.descriptions.length ? f.descriptions.join("; ").slice(0, 1024) : undefined,
      }),
    ),
    paths: list.map((f) => f.paths),
  };
}

/** The Redfish chassis at `path`, as far as it was read. */
function chassisInfo(service: RedfishService, path: string | undefined): ChassisInfo | undefined {
  if (path === undefined) return undefined;
  const c = service.chassis.find((x) => x.path === path);
  return defined({
    redfish: path,
    chassisType: c?.chassisType,
    manufacturer: c?.manufacturer,
    model: c?.model,
    serialNumber: c?.serialNumber,
  });
}

const macsOf = (m: RedfishManager) =>
  networkNics(m.nics).flatMap((n) => {
    const mac = n.mac === undefined ? undefined : normalizeMac(n.mac);
    return mac && mac !== "00:00:00:00:00:00" ? [mac] : [];
  });
const ipsOf = (m: RedfishManager) => [...new Set(networkNics(m.nics).flatMap((n) => n.ipv4))];

/**
 * The components of a read service (pure: same service and options, same
 * result). Exported for callers that read the service themselves.
 */
export function componentsOf(service: RedfishService, opts: DiscoverOptions = {}): BmcDiscovery {
  const problems: DiscoveryProblem[] = [...service.problems].sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
  );
  // The manager at the scanned address is the BMC; else the first, which services list first.
  const primary =
    service.managers.find((m) => opts.address !== undefined && ipsOf(m).includes(opts.address)) ??
    service.managers[0];
  // From the root's links, not from what was read, so that a failed read does not change a fallback id.
  const type: ComponentType = service.hasSystems ? "NodeBMC" : service.hasPowerEquipment ? "PDU" : "BMC";
  const name = nameBmc(
    defined({
      address: opts.address,
      index: opts.index,
      ipv4s: primary ? ipsOf(primary) : [],
      macs: primary ? macsOf(primary) : [],
    }),
    opts.naming,
    type,
  );
  for (const message of name.problems) problems.push({ path: primary?.path ?? SERVICE_ROOT, message });
  // An xname says what it names (x1000m0 is a CabinetPDUController).
  const xnameType = name.id === undefined ? undefined : parseXname(name.id)?.type;

  const bmc: DiscoveredBmc = defined({
    id: name.id,
    type: (xnameType as ComponentType | undefined) ?? type,
    namedBy: name.id === undefined ? undefined : name.namedBy,
    address: opts.address,
    manager: primary?.path,
    serviceUuid: service.uuid,
    redfishVersion: service.redfishVersion,
    otherManagers: service.managers
      .filter((m) => m !== primary)
      .map((m) =>
        defined({
          redfish: m.path,
          managerType: m.managerType,
          macs: macsOf(m),
          ipAddresses: ipsOf(m),
          remoteService: m.remoteService,
        }),
      ),
  });
  if (name.id === undefined) return { components: [], problems, bmc, hardware: {} };
  const bmcId = name.id;

  const drafts: Draft[] = [];
  const hardware: Record<string, HardwareInfo> = {};
  const chassisId = enclosingChassis(bmcId);
  if (chassisId)
    drafts.push({
      component: { id: chassisId, type: "Chassis", state: "Populated" },
      path: SERVICE_ROOT,
      ifacePaths: [],
    });

  const bmcIfaces = interfacesOf(networkNics(primary?.nics), bmcId, problems);
  drafts.push({
    component: defined({
      id: bmcId,
      type: bmc.type,
      state: "Ready",
      parentId: chassisId,
      interfaces: bmcIfaces.interfaces.length ? bmcIfaces.interfaces : undefined,
    }),
    path: primary?.path ?? SERVICE_ROOT,
    ifacePaths: bmcIfaces.paths,
  });
  if (primary)
    hardware[bmcId] = defined({
      redfish: primary.path,
      managerType: primary.managerType,
      model: primary.model,
      uuid: primary.uuid,
      firmwareVersion: primary.firmwareVersion,
      // The chassis it is in, else the one it manages (an enclosure manager's enclosure).
      chassis: chassisInfo(
        service,
        primary.inChassis ??
          service.chassis.find((c) => c.managers.includes(primary.path))?.path ??
          primary.forChassis,
      ),
    });

  for (const s of service.systems) {
    const id = nodeId(bmcId, s.index);
    if (s.nics === undefined)
      problems.push({
        path: s.path,
        id,
        message: "has no EthernetInterfaces: the node has no MAC to boot from until one is added",
      });
    const ifaces = interfacesOf(networkNics(s.nics), id, problems);
    drafts.push({
      component: defined({
        id,
        type: "Node",
        state: stateOf(s.powerState),
        parentId: bmcId,
        interfaces: ifaces.interfaces.length ? ifaces.interfaces : undefined,
      }),
      path: s.path,
      ifacePaths: ifaces.paths,
    });
    hardware[id] = defined({
      redfish: s.path,
      name: s.name,
      manufacturer: s.manufacturer,
      model: s.model,
      serialNumber: s.serialNumber,
      uuid: s.uuid,
      powerState: s.powerState,
      chassis: chassisInfo(service, s.chassis),
    });
  }

  const components = checkDrafts(drafts, problems);
  const kept = new Set(components.map((c) => c.id));
  for (const id of Object.keys(hardware)) if (!kept.has(id)) delete hardware[id];
  return { components, problems, bmc, hardware };
}
