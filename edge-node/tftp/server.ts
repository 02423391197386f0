/**
 * The edge's read-only TFTP server for the iPXE binaries (the first stage
 * of a network boot: PXE firmware fetches iPXE over TFTP). `node:dgram`, so
 * it runs the same on Node and in the Bun executable.
 *
 * Requests arrive on the listening socket; each accepted read gets its own
 * socket and `Transfer`. Refused, with an ERROR packet from the listening
 * port: writes (access violation: the server is read-only), any mode but
 * `octet` (netascii would rewrite line ends, which binaries do not have;
 * no boot firmware asks for it), names outside the directory (ipxe-dir.ts),
 * and reads over the per-client or total bound (limits.ts). A read request
 * repeated from the same address and port while its transfer runs is a
 * retransmission and is ignored (the transfer retransmits on its own).
 *
 * On a multi-homed host, replies leave from the address the kernel routes
 * to the client, which PXE firmware expects to be the one it asked: listen
 * on the rack-facing address (CHAMICORE_EDGE_TFTP_LISTEN=10.1.0.2:69) rather
 * than 0.0.0.0 there.
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import type { Logger } from "../../shared/log";
import { Counter, Gauge, type Registry } from "../../shared/metrics";
import { FileRefused, type IpxeDir } from "./ipxe-dir";
import { TransferSlots } from "./limits";
import { negotiateOptions } from "./options";
import { decodePacket, errorPacket, type Request, TFTP_ERROR } from "./packet";
import { Transfer, type TransferEnd } from "./transfer";

/** Sends of one block (or window) in a row that go unanswered before a transfer is given up. */
export const DEFAULT_MAX_RETRIES = 5;

export interface TftpServerOptions {
  dir: IpxeDir;
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  logger: Logger;
  registry?: Registry;
  maxPerClient?: number;
  maxTransfers?: number;
  maxRetries?: number;
}

export interface TftpServer {
  address: string;
  port: number;
  /** Transfers running now. */
  active(): number;
  /** For the edge's /status: where it listens, what runs, what ended how since the start. */
  status(): TftpStatus;
  /** Stops listening and ends the running transfers (their clients get an ERROR). */
  close(): Promise<void>;
}

export interface TftpStatus {
  listen: string;
  dir: string;
  active: number;
  /** Transfers that ended since the start, by outcome (sent, timeout, refused by the client…). */
  ended: Record<string, number>;
  sentBytes: number;
}

const udpType = (host: string) => (isIPv6(host) ? "udp6" : "udp4");

function bind(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: udpType(host) });
    socket.once("error", reject);
    socket.bind({ address: host, port }, () => {
      socket.off("error", reject);
      resolve(socket);
    });
  });
}

export async function startTftpServer(o: TftpServerOptions): Promise<TftpServer> {
  const log = o.logger;
  const slots = new TransferSlots(o.maxPerClient, o.maxTransfers);
  const maxRetries = o.maxRetries ?? DEFAULT_MAX_RETRIES;
  const running = new Map<string, Transfer>();
  /** Client address and port of every transfer from its request on (opening included), for repeats. */
  const requesters = new Set<string>();
  const requests = o.registry?.register(
    new Counter(
      "chamicore_edge_tftp_requests_total",
      "TFTP read requests by outcome (started or why refused).",
    ),
  );
  const transfers = o.registry?.register(
    new Counter("chamicore_edge_tftp_transfers_total", "TFTP transfers that ended, by outcome."),
  );
  const bytes = o.registry?.register(
    new Counter("chamicore_edge_tftp_sent_bytes_total", "Bytes of files the clients acknowledged over TFTP."),
  );
  const activeGauge = o.registry?.register(
    new Gauge("chamicore_edge_tftp_transfers", "TFTP transfers running now."),
  );
  const listener = await bind(o.host, o.port);
  let closing = false;
  const endedBy: Record<string, number> = {};
  let sentBytes = 0;

  const refuse = (to: RemoteInfo, outcome: string, code: number, message: string) => {
    requests?.inc({ outcome });
    if (!closing) listener.send(errorPacket(code, message), to.port, to.address);
  };

  async function read(req: Request, from: RemoteInfo) {
    const key = `${from.address}|${from.port}`;
    if (requesters.has(key)) return;
    if (req.mode !== "octet")
      return refuse(
        from,
        "mode",
        TFTP_ERROR.ILLEGAL_OPERATION,
        `mode ${req.mode} is not served: ask for octet (binary)`,
      );
    const full = slots.take(from.address);
    if (full)
      return refuse(
        from,
        full,
        TFTP_ERROR.UNDEFINED,
        full === "per-client" ? "too many transfers from this address at once" : "server busy, try again",
      );
    requesters.add(key);
    activeGauge?.set(slots.active);
    let taken = true;
    const give = () => {
      if (taken) slots.give(from.address);
      taken = false;
      requesters.delete(key);
      activeGauge?.set(slots.active);
    };
    try {
      const file = await o.dir.open(req.file);
      if (closing) {
        await file.handle.close();
        return give();
      }
      const socket = await bind(o.host, 0).catch(async (e) => {
        await file.handle.close();
        throw e;
      });
      const started = performance.now();
      const negotiated = negotiateOptions(req.options, file.size);
      const transfer = new Transfer({
        socket,
        peer: { address: from.address, port: from.port },
        file,
        negotiated,
        maxRetries,
        onEnd: (end: TransferEnd) => {
          running.delete(key);
          give();
          transfers?.inc({ outcome: end.outcome });
          bytes?.inc({}, end.bytes);
          endedBy[end.outcome] = (endedBy[end.outcome] ?? 0) + 1;
          sentBytes += end.bytes;
          const fields = {
            client: from.address,
            file: req.file,
            outcome: end.outcome,
            bytes: end.bytes,
            ms: Math.round(performance.now() - started),
            ...(end.detail ? { detail: end.detail } : {}),
          };
          if (end.outcome === "sent") log.debug("tftp transfer", fields);
          else log.info("tftp transfer not completed", fields);
        },
      });
      running.set(key, transfer);
      requests?.inc({ outcome: "started" });
      log.debug("tftp transfer starting", {
        client: from.address,
        file: req.file,
        size: file.size,
        options: Object.fromEntries(negotiated.reply),
      });
      transfer.start();
    } catch (e) {
      give();
      if (e instanceof FileRefused) {
        log.info("tftp request refused", { client: from.address, file: req.file, reason: e.message });
        return refuse(
          from,
          e.reason,
          e.reason === "access" ? TFTP_ERROR.ACCESS_VIOLATION : TFTP_ERROR.FILE_NOT_FOUND,
          e.reason === "access" ? "access violation" : "file not found",
        );
      }
      log.warn("tftp transfer could not start", { client: from.address, file: req.file, err: String(e) });
      refuse(from, "failed", TFTP_ERROR.UNDEFINED, "cannot serve the file now");
    }
  }

  listener.on("message", (msg, from) => {
    if (closing) return;
    const p = decodePacket(msg);
    if (!p) return refuse(from, "malformed", TFTP_ERROR.ILLEGAL_OPERATION, "not a well-formed TFTP request");
    if (p.op === "wrq")
      return refuse(from, "write", TFTP_ERROR.ACCESS_VIOLATION, "access violation: this server is read-only");
    if (p.op === "rrq") void read(p, from);
    // DATA, ACK, ERROR and OACK belong to a transfer's own port; on this one they are strays.
  });
  // A send to a vanished client can surface here (ICMP unreachable); it concerns that client only.
  listener.on("error", (e) => log.warn("tftp socket error", { err: e.message }));

  const addr = listener.address();
  return {
    address: addr.address,
    port: addr.port,
    active: () => slots.active,
    status: () => ({
      listen: `${addr.address}:${addr.port}`,
      dir: o.dir.dir,
      active: slots.active,
      ended: { ...endedBy },
      sentBytes,
    }),
    close: async () => {
      if (closing) return;
      closing = true;
      await new Promise<void>((r) => listener.close(() => r()));
      // Each stop ends its transfer at once (onEnd above runs before stop returns).
      for (const t of running.values()) t.stop("the server is stopping");
    },
  };
}
