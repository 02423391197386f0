/**
 * BMC emulators for tests: each serves one DMTF mockup
 * (tests/fixtures/redfish-mockups) over HTTP or HTTPS on its own
 * 127.0.0.1 port, and emulates what a static tree cannot:
 *
 * - auth: HTTP Basic, and sessions (`POST /redfish/v1/SessionService/Sessions`
 *   answering `X-Auth-Token` and `Location`, `DELETE` to log out); 401 with a
 *   Redfish error body otherwise. `/redfish` and the service root are open,
 *   as on real BMCs.
 * - `ComputerSystem.Reset`: the ResetType is checked against the system's
 *   AllowableValues (400 otherwise), then PowerState changes after
 *   `powerDelayMs` (restarts go Off, then On `restartOffMs` later), and
 *   later GETs of the system show it, with a new `LastResetTime` on
 *   mockups that have one (rackmount1).
 * - latency: every answer takes `latencyMs` (2 ms by default), so requests
 *   overlap as they would on real BMCs and concurrency can be measured.
 * - faults, changeable at any time: a delay, no answer at all, 500s, 429
 *   with Retry-After, malformed JSON, and "stuck" (Resets accepted, no effect).
 * - records: every request with its start and end, and the most requests
 *   in flight at once, per BMC and across any set of BMCs.
 *
 * Servers are cheap (one `node:http` server each): a hundred start in a
 * fraction of a second.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const MOCKUPS_DIR = fileURLToPath(new URL("../fixtures/redfish-mockups/", import.meta.url));

export type MockupName = "public-rackmount1" | "public-tower" | "public-bladed" | "public-pdu";

export type PowerState = "On" | "Off";

/** Faults of one BMC; each applies to every request (the service root and logins too). */
export interface BmcFaults {
  /** Never answer (the client's timeout must fire). */
  hang?: boolean;
  /** Answer after this many ms. */
  delayMs?: number;
  /** Answer 500 to the next N requests (Infinity: all), then recover. */
  fail500?: number;
  /** Answer 429 with `Retry-After: retryAfterS` to the next `count` requests. */
  rateLimit?: { count: number; retryAfterS: number };
  /** Answer cut-off JSON to the next N requests (Infinity: all). */
  malformed?: number;
  /** Accept Resets and never change PowerState. */
  stuck?: boolean;
}

export interface BmcOptions {
  /** A folder of MOCKUPS_DIR, or a path to a mockup tree. Default public-rackmount1. */
  mockup?: MockupName | string;
  /** Default `admin` / `password`. */
  username?: string;
  password?: string;
  /** Serve HTTPS with this certificate (see `selfSignedCertificate`). */
  tls?: TlsMaterial;
  /**
   * How long every answer takes, as a BMC's slow CPU would. Default 2 ms:
   * without it each request is handled within one event-loop turn, and no
   * two requests could ever be seen in flight at once.
   */
  latencyMs?: number;
  /** How long a Reset takes to show in PowerState. Default 20 ms. */
  powerDelayMs?: number;
  /** How long a restart stays Off. Default `powerDelayMs`. */
  restartOffMs?: number;
  /** Every system's PowerState at start; default the mockup's. */
  initialPowerState?: PowerState;
  /** Replaces every system's ResetType AllowableValues; `null` removes the list. */
  allowableResetTypes?: string[] | null;
  /**
   * What Resets are accepted when the system's document lists none (after
   * `allowableResetTypes: null`, say). Default On, ForceOff, GracefulShutdown,
   * GracefulRestart, ForceRestart.
   */
  acceptedResetTypes?: string[];
  faults?: BmcFaults;
}

export interface TlsMaterial {
  cert: string;
  key: string;
}

export interface BmcRequest {
  method: string;
  /** Normalized path, without query or trailing slash. */
  path: string;
  /** Date.now() at arrival. */
  at: number;
  /** Order of arrival and of end among all emulators of this process, for exact overlap counts. */
  seq: number;
  endSeq?: number;
  status?: number;
}

export interface ResetRecord {
  system: string;
  resetType: string;
  at: number;
}

/** One step of the global sequence shared by all emulators: start and end events are totally ordered. */
let sequence = 0;
const nextSeq = () => ++sequence;

/** The last sequence number handed out: requests that arrive later have a greater `seq`. */
export function currentSeq(): number {
  return sequence;
}

const mockupCache = new Map<string, Map<string, string>>();

/** Every `index.json` of a mockup, by URL path (`/redfish/v1/...`), as text. */
function loadMockup(dir: string): Map<string, string> {
  const cached = mockupCache.get(dir);
  if (cached) return cached;
  const docs = new Map<string, string>();
  const walk = (d: string, url: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p, `${url}/${name}`);
      else if (name === "index.json") docs.set(url, readFileSync(p, "utf8"));
    }
  };
  walk(dir, "/redfish/v1");
  if (!docs.has("/redfish/v1")) throw new Error(`${dir} is not a Redfish mockup (no index.json)`);
  mockupCache.set(dir, docs);
  return docs;
}

/** `/redfish/v1/Systems/?x=1` → `/redfish/v1/Systems`. */
function normalize(url: string): string {
  const path = decodeURIComponent(url.split(/[?#]/)[0] ?? "/");
  return path.length > 1 ? path.replace(/\/+$/, "") || "/" : path;
}

function redfishError(code: string, message: string) {
  return {
    error: {
      code: `Base.1.8.${code}`,
      message,
      "@Message.ExtendedInfo": [{ MessageId: `Base.1.8.${code}`, Message: message, Severity: "Critical" }],
    },
  };
}

interface SystemState {
  doc: Record<string, unknown>;
  powerState: string;
  history: { state: string; at: number }[];
  timers: NodeJS.Timeout[];
  /** Set when a Reset powers on or restarts; served only by mockups that have LastResetTime. */
  lastResetTime?: string;
}

interface Session {
  id: string;
  token: string;
  username: string;
}

const SESSIONS = "/redfish/v1/SessionService/Sessions";
const DEFAULT_RESET_TYPES = ["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart"];
const RESET_SUFFIX = "/Actions/ComputerSystem.Reset";

/** One emulated BMC; see the module comment. */
export class EmulatedBmc {
  readonly requests: BmcRequest[] = [];
  readonly resets: ResetRecord[] = [];
  /** The ComputerSystem paths of the mockup. */
  readonly systems: string[];
  faults: BmcFaults;
  private readonly docs: Map<string, string>;
  private readonly state = new Map<string, SystemState>();
  private readonly sessions = new Map<string, Session>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private inFlight = 0;
  private maxInFlight = 0;
  private url_ = "";
  private port_ = 0;

  private constructor(
    private readonly server: Server,
    readonly mockup: string,
    readonly credentials: { username: string; password: string },
    private readonly opts: BmcOptions,
  ) {
    this.faults = { ...opts.faults };
    this.docs = loadMockup(mockup);
    const collection = JSON.parse(this.docs.get("/redfish/v1/Systems") ?? '{"Members":[]}') as {
      Members: { "@odata.id": string }[];
    };
    this.systems = collection.Members.map((m) => normalize(m["@odata.id"]));
    for (const path of this.systems) {
      const doc = JSON.parse(this.docs.get(path) ?? "{}") as Record<string, unknown>;
      const powerState = opts.initialPowerState ?? (doc.PowerState as string | undefined) ?? "On";
      this.state.set(path, { doc, powerState, history: [{ state: powerState, at: Date.now() }], timers: [] });
    }
  }

  static async start(opts: BmcOptions = {}): Promise<EmulatedBmc> {
    const mockup = !opts.mockup
      ? join(MOCKUPS_DIR, "public-rackmount1")
      : opts.mockup.includes("/")
        ? opts.mockup
        : join(MOCKUPS_DIR, opts.mockup);
    let bmc: EmulatedBmc | undefined;
    const handler = (req: IncomingMessage, res: ServerResponse) => bmc!.handle(req, res);
    const server = opts.tls
      ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handler)
      : createHttpServer(handler);
    bmc = new EmulatedBmc(
      server,
      mockup,
      { username: opts.username ?? "admin", password: opts.password ?? "password" },
      opts,
    );
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    bmc.port_ = (server.address() as AddressInfo).port;
    bmc.url_ = `${opts.tls ? "https" : "http"}://127.0.0.1:${bmc.port_}`;
    return bmc;
  }

  /** `http://127.0.0.1:<port>` (or https). */
  get url(): string {
    return this.url_;
  }

  get port(): number {
    return this.port_;
  }

  /** The most requests this BMC had in flight at once. */
  get maxConcurrent(): number {
    return this.maxInFlight;
  }

  /** Replaces all faults. */
  setFaults(faults: BmcFaults): void {
    this.faults = { ...faults };
  }

  /** PowerState of a system (default the first). */
  powerState(system = this.systems[0]!): string {
    return this.system(system).powerState;
  }

  setPowerState(state: PowerState, system = this.systems[0]!): void {
    this.change(this.system(system), state);
  }

  /** Every PowerState a system had, the initial one first. */
  powerHistory(system = this.systems[0]!): { state: string; at: number }[] {
    return [...this.system(system).history];
  }

  /** Tokens of the sessions open now. */
  sessionTokens(): string[] {
    return [...this.sessions.keys()];
  }

  /** Forgets every session, as a BMC reboot or a session timeout would. */
  dropSessions(): void {
    this.sessions.clear();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.state.values()) for (const t of s.timers) clearTimeout(t);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private system(path: string): SystemState {
    const s = this.state.get(normalize(path));
    if (!s) throw new Error(`${this.mockup} has no system ${path} (has ${this.systems.join(", ")})`);
    return s;
  }

  private change(s: SystemState, state: string) {
    s.powerState = state;
    s.history.push({ state, at: Date.now() });
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  private handle(req: IncomingMessage, res: ServerResponse) {
    const record: BmcRequest = {
      method: req.method ?? "GET",
      path: normalize(req.url ?? "/"),
      at: Date.now(),
      seq: nextSeq(),
    };
    this.requests.push(record);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let ended = false;
    // "finish" (the last byte handed to the OS, so before the client can have
    // it) for answers, "close" for requests dropped unanswered.
    const end = () => {
      if (ended) return;
      ended = true;
      this.inFlight--;
      record.endSeq = nextSeq();
      record.status = res.headersSent ? res.statusCode : undefined;
    };
    res.on("finish", end);
    res.on("close", end);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const f = this.faults;
      if (f.hang) return;
      const go = () => this.route(req, res, record, Buffer.concat(chunks).toString("utf8"));
      this.later((this.opts.latencyMs ?? 2) + (f.delayMs ?? 0), go);
    });
  }

  private send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) {
    if (res.destroyed) return;
    let text = body === undefined ? "" : JSON.stringify(body, null, 2);
    const f = this.faults;
    if (text && f.malformed) {
      f.malformed--;
      // Cut mid-document, as a BMC whose web server dies while writing does.
      text = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
    }
    res.writeHead(status, {
      ...(text
        ? { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(text)) }
        : {}),
      "OData-Version": "4.0",
      ...headers,
    });
    res.end(text);
  }

  private route(req: IncomingMessage, res: ServerResponse, record: BmcRequest, body: string) {
    const f = this.faults;
    if (f.rateLimit && f.rateLimit.count > 0) {
      f.rateLimit.count--;
      return this.send(res, 429, redfishError("ServiceTemporarilyUnavailable", "Too many requests."), {
        "Retry-After": String(f.rateLimit.retryAfterS),
      });
    }
    if (f.fail500) {
      f.fail500--;
      return this.send(
        res,
        500,
        redfishError("InternalError", "The request failed due to an internal service error."),
      );
    }
    const { method, path } = record;

    if (method === "GET" && path === "/redfish") return this.send(res, 200, { v1: "/redfish/v1/" });
    if (method === "GET" && path === "/redfish/v1")
      return this.send(res, 200, JSON.parse(this.docs.get(path)!));
    if (method === "POST" && path === SESSIONS) return this.login(res, body);

    const user = this.authenticate(req);
    if (!user)
      return this.send(
        res,
        401,
        redfishError("NoValidSession", "There is no valid session established with the implementation."),
        { "WWW-Authenticate": 'Basic realm="Redfish"' },
      );

    if (path === SESSIONS && method === "GET")
      return this.send(res, 200, {
        "@odata.id": SESSIONS,
        Name: "Session Collection",
        Members: [...this.sessions.values()].map((s) => ({ "@odata.id": `${SESSIONS}/${s.id}` })),
        "Members@odata.count": this.sessions.size,
      });
    if (path.startsWith(`${SESSIONS}/`)) return this.session(res, method, path.slice(SESSIONS.length + 1));
    if (method === "POST" && path.endsWith(RESET_SUFFIX))
      return this.reset(res, path.slice(0, -RESET_SUFFIX.length), body);

    const system = this.state.get(path);
    if (!system && !this.docs.has(path))
      return this.send(
        res,
        404,
        redfishError("ResourceMissingAtURI", `The resource at the URI '${path}' was not found.`),
      );
    if (method !== "GET")
      return this.send(
        res,
        405,
        redfishError("OperationNotAllowed", `${method} is not allowed on '${path}'.`),
        {
          Allow: "GET",
        },
      );
    if (system) return this.send(res, 200, this.systemDoc(system));
    return this.send(res, 200, JSON.parse(this.docs.get(path)!));
  }

  /** The username behind the request's Basic credentials or session token, or undefined. */
  private authenticate(req: IncomingMessage): string | undefined {
    const token = req.headers["x-auth-token"];
    if (typeof token === "string") return this.sessions.get(token)?.username;
    const auth = req.headers.authorization ?? "";
    if (!auth.startsWith("Basic ")) return undefined;
    const decoded = Buffer.from(auth.slice(6), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const [user, pass] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    return colon > 0 && user === this.credentials.username && pass === this.credentials.password
      ? user
      : undefined;
  }

  private login(res: ServerResponse, body: string) {
    let creds: { UserName?: unknown; Password?: unknown } = {};
    try {
      creds = JSON.parse(body) as typeof creds;
    } catch {
      return this.send(
        res,
        400,
        redfishError("MalformedJSON", "The request body submitted was malformed JSON."),
      );
    }
    if (creds.UserName !== this.credentials.username || creds.Password !== this.credentials.password)
      return this.send(
        res,
        401,
        redfishError(
          "ResourceAtUriUnauthorized",
          `While accessing the resource at '${SESSIONS}', the service received an authorization error 'invalid credentials'.`,
        ),
      );
    const session: Session = {
      id: randomBytes(8).toString("hex").toUpperCase(),
      token: randomBytes(16).toString("hex"),
      username: this.credentials.username,
    };
    this.sessions.set(session.token, session);
    const location = `${SESSIONS}/${session.id}`;
    return this.send(res, 201, this.sessionDoc(session), {
      "X-Auth-Token": session.token,
      Location: location,
    });
  }

  private session(res: ServerResponse, method: string, id: string) {
    const s = [...this.sessions.values()].find((x) => x.id === id);
    if (!s) return this.send(res, 404, redfishError("ResourceMissingAtURI", `No session ${id}.`));
    if (method === "GET") return this.send(res, 200, this.sessionDoc(s));
    if (method === "DELETE") {
      this.sessions.delete(s.token);
      return this.send(res, 204);
    }
    return this.send(res, 405, redfishError("OperationNotAllowed", `${method} is not allowed on a session.`));
  }

  private sessionDoc(s: Session) {
    return {
      "@odata.id": `${SESSIONS}/${s.id}`,
      "@odata.type": "#Session.v1_8_0.Session",
      Id: s.id,
      Name: "User Session",
      UserName: s.username,
    };
  }

  private allowable(s: SystemState): string[] | undefined {
    if (this.opts.allowableResetTypes !== undefined) return this.opts.allowableResetTypes ?? undefined;
    const action = (s.doc.Actions as Record<string, Record<string, unknown>> | undefined)?.[
      "#ComputerSystem.Reset"
    ];
    const values = action?.["ResetType@Redfish.AllowableValues"];
    return Array.isArray(values) ? (values as string[]) : undefined;
  }

  private systemDoc(s: SystemState) {
    const doc = structuredClone(s.doc);
    doc.PowerState = s.powerState;
    if ("LastResetTime" in doc && s.lastResetTime) doc.LastResetTime = s.lastResetTime;
    const actions = doc.Actions as Record<string, Record<string, unknown>> | undefined;
    const action = actions?.["#ComputerSystem.Reset"];
    if (action && this.opts.allowableResetTypes !== undefined) {
      if (this.opts.allowableResetTypes === null) delete action["ResetType@Redfish.AllowableValues"];
      else action["ResetType@Redfish.AllowableValues"] = this.opts.allowableResetTypes;
    }
    return doc;
  }

  private reset(res: ServerResponse, systemPath: string, body: string) {
    const s = this.state.get(systemPath);
    if (!s) return this.send(res, 404, redfishError("ResourceMissingAtURI", `No system at '${systemPath}'.`));
    let resetType: unknown;
    try {
      resetType = (JSON.parse(body || "{}") as { ResetType?: unknown }).ResetType;
    } catch {
      return this.send(
        res,
        400,
        redfishError("MalformedJSON", "The request body submitted was malformed JSON."),
      );
    }
    if (typeof resetType !== "string")
      return this.send(
        res,
        400,
        redfishError("ActionParameterMissing", "The action requires the parameter ResetType."),
      );
    const allowed = this.allowable(s) ?? this.opts.acceptedResetTypes ?? DEFAULT_RESET_TYPES;
    if (!allowed.includes(resetType))
      return this.send(
        res,
        400,
        redfishError(
          "ActionParameterValueNotInList",
          `The value '${resetType}' for the parameter ResetType is not in the list of acceptable values.`,
        ),
      );
    this.resets.push({ system: systemPath, resetType, at: Date.now() });
    if (!this.faults.stuck) this.schedule(s, resetType);
    return this.send(res, 204);
  }

  /**
   * PowerState changes of a Reset; a new Reset replaces the changes still
   * pending. Each change arms the next: timers of different lengths may fire
   * out of order when the event loop lags, and a restart must end On.
   */
  private schedule(s: SystemState, resetType: string) {
    for (const t of s.timers) clearTimeout(t);
    s.timers = [];
    const delay = this.opts.powerDelayMs ?? 20;
    const offFor = this.opts.restartOffMs ?? delay;
    const chain = (changes: { after: number; state: () => string; reset?: boolean }[]) => {
      const [first, ...rest] = changes;
      if (!first) return;
      s.timers.push(
        this.later(first.after, () => {
          if (first.reset) s.lastResetTime = new Date().toISOString();
          this.change(s, first.state());
          chain(rest);
        }),
      );
    };
    switch (resetType) {
      case "On":
      case "ForceOn":
        chain([{ after: delay, state: () => "On", reset: s.powerState !== "On" }]);
        break;
      case "ForceOff":
      case "GracefulShutdown":
        chain([{ after: delay, state: () => "Off" }]);
        break;
      case "ForceRestart":
      case "GracefulRestart":
      case "PowerCycle":
        chain([
          { after: delay, state: () => "Off", reset: true },
          { after: offFor, state: () => "On" },
        ]);
        break;
      case "PushPowerButton":
        chain([{ after: delay, state: () => (s.powerState === "On" ? "Off" : "On") }]);
        break;
      default:
        // Nmi and the rest: no change of power.
        break;
    }
  }
}

/** Starts one emulator. */
export function startBmc(opts: BmcOptions = {}): Promise<EmulatedBmc> {
  return EmulatedBmc.start(opts);
}

export interface BmcFleet {
  bmcs: EmulatedBmc[];
  urls: string[];
  /** The most requests in flight at once across the whole fleet. */
  maxConcurrent(): number;
  close(): Promise<void>;
}

/** Starts `n` emulators, each on its own port; `opts` may differ per index. */
export async function startBmcs(
  n: number,
  opts: BmcOptions | ((i: number) => BmcOptions) = {},
): Promise<BmcFleet> {
  const bmcs = await Promise.all(
    Array.from({ length: n }, (_, i) => startBmc(typeof opts === "function" ? opts(i) : opts)),
  );
  return {
    bmcs,
    urls: bmcs.map((b) => b.url),
    maxConcurrent: () => maxConcurrency(bmcs),
    close: async () => {
      await Promise.all(bmcs.map((b) => b.close()));
    },
  };
}

/**
 * The most requests in flight at once across `bmcs`, from their records:
 * a sweep over start and end events in the process-wide order they happened.
 * Requests still open count as open to the end.
 */
export function maxConcurrency(bmcs: readonly EmulatedBmc[]): number {
  const events: [seq: number, delta: number][] = [];
  for (const b of bmcs)
    for (const r of b.requests) {
      events.push([r.seq, 1]);
      if (r.endSeq !== undefined) events.push([r.endSeq, -1]);
    }
  events.sort((a, b) => a[0] - b[0]);
  let now = 0;
  let max = 0;
  for (const [, delta] of events) {
    now += delta;
    max = Math.max(max, now);
  }
  return max;
}

/** Why HTTPS emulators cannot be started here, or undefined when they can. */
export function opensslUnavailable(): string | undefined {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return undefined;
  } catch {
    return "the openssl CLI is not installed (needed to make a self-signed certificate)";
  }
}

let certificate: TlsMaterial | undefined;

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made once per test
 * process with the openssl CLI (P-256: quick to generate).
 */
export function selfSignedCertificate(): TlsMaterial {
  if (certificate) return certificate;
  const dir = mkdtempSync(join(tmpdir(), "bmc-tls-"));
  try {
    const key = join(dir, "key.pem");
    const cert = join(dir, "cert.pem");
    execFileSync(
      "openssl",
      [
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
        ["-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1"],
        ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
      ].flat(),
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    certificate = { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") };
    return certificate;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
