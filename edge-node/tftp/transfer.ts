/**
 * One read transfer, from the server's side: its own UDP socket (a new
 * transfer ID, RFC 1350), the OACK when options were granted, then the file
 * in windows of `windowsize` blocks (RFC 7440; 1 is plain lock-step).
 *
 * - A window is read from disk with one positioned read, sent, and sent
 *   again from its first unacknowledged block when no ACK comes within the
 *   timeout, at most `maxRetries` times in a row before the transfer is
 *   given up.
 * - An ACK moves the window to the block after the one it names, if that
 *   block was sent and not yet acknowledged: a client that lost part of a
 *   window acknowledges what it has and gets the rest. Any other ACK (a
 *   duplicate, a late one) is ignored and triggers nothing: answering
 *   duplicates would double every later block (the Sorcerer's Apprentice).
 * - Block numbers go on the wire modulo 65536 (after 65535 comes 0, as
 *   tftp-hpa, atftp and iPXE expect), so files larger than 65535 blocks
 *   work; counting is done on absolute numbers.
 * - A packet from another address or port gets ERROR 5 and changes nothing.
 */
import type { RemoteInfo, Socket } from "node:dgram";
import type { OpenedFile } from "./ipxe-dir";
import type { Negotiated } from "./options";
import { dataPacket, decodePacket, errorPacket, oackPacket, TFTP_ERROR } from "./packet";

export type TransferOutcome = "sent" | "timed-out" | "aborted-by-client" | "failed" | "stopped";

export interface TransferEnd {
  outcome: TransferOutcome;
  /** Bytes acknowledged by the client. */
  bytes: number;
  detail?: string;
}

export interface TransferOptions {
  /** Bound, and used by this transfer alone; closed at the end. */
  socket: Socket;
  peer: { address: string; port: number };
  /** Closed at the end. */
  file: OpenedFile;
  negotiated: Negotiated;
  maxRetries: number;
  onEnd(end: TransferEnd): void;
}

export class Transfer {
  private readonly socket: Socket;
  private readonly blksize: number;
  private readonly size: number;
  /** The last block's number: a block shorter than blksize (possibly empty) ends the file. */
  private readonly last: number;
  /** The first block not yet acknowledged; 0 while the OACK waits for its ACK. */
  private base: number;
  /** The highest block sent. */
  private sentTo = 0;
  private retries = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by every send, so that a window read finishing late does not go out after a newer one. */
  private generation = 0;
  private ended = false;

  constructor(private readonly o: TransferOptions) {
    this.socket = o.socket;
    this.blksize = o.negotiated.blksize;
    this.size = o.file.size;
    this.last = Math.floor(this.size / this.blksize) + 1;
    this.base = o.negotiated.reply.length ? 0 : 1;
  }

  start(): void {
    this.socket.on("message", (msg, from) => this.receive(msg, from));
    this.socket.on("error", (e) => this.finish({ outcome: "failed", detail: e.message }));
    this.send();
  }

  /** Ends the transfer now, telling the client why. */
  stop(message: string): void {
    this.finish({ outcome: "stopped", detail: message }, errorPacket(TFTP_ERROR.UNDEFINED, message));
  }

  private receive(msg: Buffer, from: RemoteInfo): void {
    if (this.ended) return;
    if (from.address !== this.o.peer.address || from.port !== this.o.peer.port) {
      this.socket.send(errorPacket(TFTP_ERROR.UNKNOWN_TID, "unknown transfer ID"), from.port, from.address);
      return;
    }
    const p = decodePacket(msg);
    if (p?.op === "error") {
      this.finish({ outcome: "aborted-by-client", detail: `${p.code} ${p.message}`.trim() });
      return;
    }
    if (p?.op !== "ack") {
      this.finish(
        { outcome: "failed", detail: "the client sent something other than an ACK" },
        errorPacket(TFTP_ERROR.ILLEGAL_OPERATION, "expected an ACK"),
      );
      return;
    }
    const n = this.acknowledged(p.block);
    if (n === undefined) return;
    this.base = n + 1;
    this.retries = 0;
    if (this.base > this.last) this.finish({ outcome: "sent" });
    else this.send();
  }

  /** The absolute block an ACK of `wire` acknowledges, if it is one sent and not yet acknowledged. */
  private acknowledged(wire: number): number | undefined {
    if (this.base === 0) return wire === 0 ? 0 : undefined;
    for (let n = this.base; n <= this.sentTo; n++) if ((n & 0xffff) === wire) return n;
    return undefined;
  }

  /** Sends what is due from `base` (the OACK, or a window) and arms the retransmission timer. */
  private send(): void {
    const generation = ++this.generation;
    clearTimeout(this.timer);
    const sent = this.base === 0 ? this.sendOack() : this.sendWindow(generation);
    sent.then(
      () => {
        if (this.ended || generation !== this.generation) return;
        this.timer = setTimeout(() => this.expire(), this.o.negotiated.timeoutMs);
      },
      (e: Error) =>
        this.finish(
          { outcome: "failed", detail: e.message },
          errorPacket(TFTP_ERROR.UNDEFINED, "cannot send the file"),
        ),
    );
  }

  private async sendOack(): Promise<void> {
    this.socket.send(oackPacket(this.o.negotiated.reply), this.o.peer.port, this.o.peer.address);
  }

  private async sendWindow(generation: number): Promise<void> {
    const { blksize, size } = this;
    const first = this.base;
    const end = Math.min(this.last, first + this.o.negotiated.windowsize - 1);
    const from = (first - 1) * blksize;
    const length = Math.max(0, Math.min(size, end * blksize) - from);
    const buf = Buffer.allocUnsafe(length);
    for (let got = 0; got < length; ) {
      const { bytesRead } = await this.o.file.handle.read(buf, got, length - got, from + got);
      if (bytesRead === 0) throw new Error("the file got shorter during the transfer");
      got += bytesRead;
    }
    if (this.ended || generation !== this.generation) return;
    for (let n = first; n <= end; n++) {
      const offset = (n - first) * blksize;
      const len = Math.max(0, Math.min(blksize, length - offset));
      const packet = dataPacket(n, len);
      buf.copy(packet, 4, offset, offset + len);
      this.socket.send(packet, this.o.peer.port, this.o.peer.address);
    }
    this.sentTo = end;
  }

  private expire(): void {
    if (this.ended) return;
    if (++this.retries > this.o.maxRetries)
      this.finish({ outcome: "timed-out", detail: `no answer after ${this.o.maxRetries} retries` });
    else this.send();
  }

  /** Ends once: stops the timer, sends `last` if given, closes the socket and the file. */
  private finish(end: Omit<TransferEnd, "bytes">, last?: Buffer): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    const close = () => {
      try {
        this.socket.close();
      } catch {
        // Already closed by an error.
      }
    };
    if (!last) close();
    else
      try {
        this.socket.send(last, this.o.peer.port, this.o.peer.address, close);
      } catch {
        close();
      }
    this.o.file.handle.close().catch(() => {});
    const acked = this.base === 0 ? 0 : Math.min(this.size, (this.base - 1) * this.blksize);
    this.o.onEnd({ ...end, bytes: acked });
  }
}
