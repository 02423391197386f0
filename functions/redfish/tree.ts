/**
 * Reading the parts of a Redfish service that discovery uses: the service
 * root, Systems, Managers and Chassis, with their EthernetInterfaces.
 *
 * BMCs differ (collections left out, OEM fields, systems without
 * interfaces, a PDU without Systems) and fail in parts (a 500 on one
 * resource, a timeout), so everything below the service root is read
 * tolerantly: a resource that fails or is not a JSON object becomes a
 * problem naming its path, and the rest is still read. Only the fields
 * discovery uses are kept; resources are followed by their `@odata.id`,
 * never by guessed paths.
 */
import type { ComponentCreate } from "../inventory/schemas";
import type { RedfishReader } from "./reader";

/** Something a scan could not read or use, with the Redfish path (or file line) it concerns. */
export interface DiscoveryProblem {
  path: string;
  message: string;
  /** The component it concerns, when one. */
  id?: string;
  /** The field at fault, e.g. `interfaces[0].macAddress` or `MACAddress`. */
  field?: string;
}

export interface RedfishNic {
  path: string;
  /** `MACAddress` (the one in use), else `PermanentMACAddress`, as the BMC spells it. */
  mac?: string;
  /** IPv4 addresses other than 0.0.0.0. */
  ipv4: string[];
  description?: string;
  /** The in-band link between host and BMC (Redfish host interface): no DHCP server sees it. */
  hostInterface: boolean;
}

export interface RedfishSystem {
  path: string;
  /** Position in the Systems collection: the node's number. */
  index: number;
  name?: string;
  powerState?: string;
  manufacturer?: string;
  model?: string;
  serialNumber?: string;
  uuid?: string;
  /** Its first `Links.Chassis`. */
  chassis?: string;
  /** undefined: the system has no EthernetInterfaces link; [] also when reading it failed (a problem says so). */
  nics?: RedfishNic[];
}

export interface RedfishManager {
  path: string;
  managerType?: string;
  model?: string;
  firmwareVersion?: string;
  uuid?: string;
  /** A manager with a Redfish service of its own (a blade BMC behind an enclosure manager). */
  remoteService?: string;
  /** `Links.ManagerInChassis`. */
  inChassis?: string;
  /** The first of `Links.ManagerForChassis`. */
  forChassis?: string;
  nics?: RedfishNic[];
}

export interface RedfishChassis {
  path: string;
  chassisType?: string;
  manufacturer?: string;
  model?: string;
  serialNumber?: string;
  /** `Links.ManagersInChassis`. */
  managers: string[];
}

export interface RedfishService {
  uuid?: string;
  redfishVersion?: string;
  vendor?: string;
  product?: string;
  /** The root links Systems: the service manages computers (even if reading them failed). */
  hasSystems: boolean;
  /** The root links PowerEquipment: a PDU or another power device. */
  hasPowerEquipment: boolean;
  systems: RedfishSystem[];
  managers: RedfishManager[];
  chassis: RedfishChassis[];
  problems: DiscoveryProblem[];
}

export const SERVICE_ROOT = "/redfish/v1/";

/** Collection pages followed at most (`Members@odata.nextLink`); a loop in a BMC's links must end. */
const MAX_PAGES = 100;
/** Requests in flight at once: BMCs are small computers that fail under load. */
const CONCURRENCY = 4;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const text = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);
const idOf = (v: unknown) => (isObject(v) ? text(v["@odata.id"]) : undefined);
const linkOf = (o: Json, key: string) => idOf(o[key]);
const linksOf = (o: Json, key: string) => {
  const links = isObject(o.Links) ? o.Links[key] : undefined;
  return Array.isArray(links) ? links.map(idOf).filter((p): p is string => p !== undefined) : [];
};
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Defined fields only, so that results compare and print without `undefined`s. */
export function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** `fn` over `items` with at most `limit` calls pending; results in the order of `items`. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T, i: number) => Promise<R>) {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** A tolerant walk over one service: every failure lands in `problems`. */
class Walk {
  readonly problems: DiscoveryProblem[] = [];
  constructor(private readonly reader: RedfishReader) {}

  problem(path: string, msg: string) {
    this.problems.push({ path, message: msg });
  }

  async resource(path: string): Promise<Json | undefined> {
    let doc: unknown;
    try {
      doc = await this.reader.get(path);
    } catch (e) {
      this.problem(path, `could not be read: ${message(e)}`);
      return undefined;
    }
    if (!isObject(doc)) {
      this.problem(path, "is not a JSON object");
      return undefined;
    }
    return doc;
  }

  /** The member paths of a collection, all pages; undefined when it cannot be read. */
  async members(path: string): Promise<string[] | undefined> {
    const out: string[] = [];
    let page: string | undefined = path;
    for (let n = 0; page !== undefined && n < MAX_PAGES; n++) {
      const doc = await this.resource(page);
      if (!doc) return n === 0 ? undefined : out;
      if (!Array.isArray(doc.Members)) {
        this.problem(page, "is not a collection (no Members list)");
        return n === 0 ? undefined : out;
      }
      doc.Members.forEach((m, i) => {
        const id = idOf(m);
        if (id) out.push(id);
        else this.problem(page!, `Members[${i}] has no @odata.id`);
      });
      page = text(doc["Members@odata.nextLink"]);
    }
    if (page !== undefined) this.problem(path, `has more than ${MAX_PAGES} pages; the rest is not read`);
    return out;
  }

  async nics(path: string | undefined): Promise<RedfishNic[] | undefined> {
    if (path === undefined) return undefined;
    const paths = await this.members(path);
    if (!paths) return [];
    const docs = await mapLimit(paths, CONCURRENCY, (p) => this.resource(p));
    return docs.flatMap((doc, i) => {
      if (!doc) return [];
      const ipv4 = (Array.isArray(doc.IPv4Addresses) ? doc.IPv4Addresses : [])
        .map((a) => (isObject(a) ? text(a.Address) : undefined))
        .filter((a): a is string => a !== undefined && a !== "0.0.0.0");
      return [
        defined({
          path: idOf(doc) ?? paths[i]!,
          mac: text(doc.MACAddress) ?? text(doc.PermanentMACAddress),
          ipv4: [...new Set(ipv4)],
          description: text(doc.Description) ?? text(doc.Name),
          hostInterface: isObject(doc.Links) && idOf(doc.Links.HostInterface) !== undefined,
        }),
      ];
    });
  }

  /** The resources of a root collection (`Systems`), each read with `read`; [] when absent or failed. */
  async collection<R>(
    root: Json,
    key: string,
    read: (doc: Json, path: string, index: number) => Promise<R>,
  ): Promise<R[]> {
    const path = linkOf(root, key);
    if (path === undefined) return [];
    const paths = (await this.members(path)) ?? [];
    const rows = await mapLimit(paths, CONCURRENCY, async (p, i) => {
      const doc = await this.resource(p);
      return doc ? [await read(doc, idOf(doc) ?? p, i)] : [];
    });
    return rows.flat();
  }
}

/**
 * Reads what discovery uses of the service behind `reader`. Rejects only
 * when the service root cannot be read (with the reader's own error, so
 * that a caller can tell a 401 from a timeout).
 */
export async function readService(reader: RedfishReader): Promise<RedfishService> {
  const root = await reader.get(SERVICE_ROOT);
  if (!isObject(root)) throw new Error(`${SERVICE_ROOT} is not a JSON object: not a Redfish service`);
  const walk = new Walk(reader);

  const systems = await walk.collection(root, "Systems", async (doc, path, index) =>
    defined<RedfishSystem>({
      path,
      index,
      name: text(doc.Name),
      powerState: text(doc.PowerState),
      manufacturer: text(doc.Manufacturer),
      model: text(doc.Model),
      serialNumber: text(doc.SerialNumber),
      uuid: text(doc.UUID),
      chassis: linksOf(doc, "Chassis")[0],
      nics: await walk.nics(linkOf(doc, "EthernetInterfaces")),
    }),
  );
  const managers = await walk.collection(root, "Managers", async (doc, path) =>
    defined<RedfishManager>({
      path,
      managerType: text(doc.ManagerType),
      model: text(doc.Model),
      firmwareVersion: text(doc.FirmwareVersion),
      uuid: text(doc.UUID),
      remoteService: text(doc.RemoteRedfishServiceUri),
      inChassis: isObject(doc.Links) ? idOf(doc.Links.ManagerInChassis) : undefined,
      forChassis: linksOf(doc, "ManagerForChassis")[0],
      nics: await walk.nics(linkOf(doc, "EthernetInterfaces")),
    }),
  );
  const chassis = await walk.collection(root, "Chassis", async (doc, path) =>
    defined<RedfishChassis>({
      path,
      chassisType: text(doc.ChassisType),
      manufacturer: text(doc.Manufacturer),
      model: text(doc.Model),
      serialNumber: text(doc.SerialNumber),
      managers: linksOf(doc, "ManagersInChassis"),
    }),
  );
  return defined({
    uuid: text(root.UUID),
    redfishVersion: text(root.RedfishVersion),
    vendor: text(root.Vendor),
    product: text(root.Product),
    hasSystems: linkOf(root, "Systems") !== undefined,
    hasPowerEquipment: linkOf(root, "PowerEquipment") !== undefined,
    systems,
    managers,
    chassis,
    problems: walk.problems,
  });
}

/** One item of the `POST /hsm/v2/import` body, as the API's schema hands it on (MACs normalised). */
export type ComponentImportItem = ComponentCreate;
