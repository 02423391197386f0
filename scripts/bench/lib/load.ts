/**
 * The benchmarks' load generator: raw HTTP/1.1 over `node:net`, so that the
 * generator costs as little CPU as it can (it shares the machine's cores
 * with the server it measures) and every request is timed on its own.
 *
 * Three shapes of load:
 * - `openLoop`: what a boot storm is. Request `i` is due at `i / rate`
 *   seconds whatever happened to the ones before it, each on a new
 *   connection from its own source address (a node's own IP, 127.x.y.z on
 *   loopback), once. Latency runs from when the request was due, not from
 *   when it was sent, so a server (or generator) falling behind shows in
 *   the figures instead of slowing the arrivals (no coordinated omission).
 * - `closedLoop`: throughput. `connections` kept-alive connections each send
 *   the next request as soon as the previous answer is in.
 * - `holdIdle`: many idle keep-alive connections held open, each used once
 *   before and once after the hold.
 */
import { connect, type Socket } from "node:net";

export interface Endpoint {
  host: string;
  port: number;
}

/** What request `i` is: its path and, for open-loop storms, the node's source address. */
export interface Request {
  path: string;
  localAddress?: string;
}

/** Returns why answer `i` is wrong, or undefined when it is right. */
export type Check = (status: number, body: string, i: number) => string | undefined;

export interface Outcome {
  /** Requests answered correctly. */
  ok: number;
  /** Failed requests by reason (connection errors, timeouts, wrong answers). */
  errors: Map<string, number>;
  /** Latencies of the correct answers in ms, sorted. */
  latencies: Float64Array;
  /** From the first request due to the last answer, in ms. */
  elapsedMs: number;
  /** Most requests in flight at once. */
  peakInFlight: number;
  /** Requests made, counted or not (what the server's CPU time is divided by). */
  requests: number;
  /** With `steps` > 1: from when each arrival was due to its last correct answer, in ms, sorted. */
  sequences?: Float64Array;
}

export const errorCount = (o: Pick<Outcome, "errors">) => [...o.errors.values()].reduce((a, b) => a + b, 0);

/** Percentile `p` (0–100) of sorted values; NaN when there are none. */
export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** 127.a.b.c for node `i`: loopback holds all of 127/8, so each node connects from its own address. */
export function nodeAddress(i: number): string {
  const n = i + 1;
  return `127.${10 + ((n >> 16) & 127)}.${(n >> 8) & 255}.${n & 255}`;
}

/** One HTTP/1.1 answer being read from a socket. */
class Answer {
  private chunks: Buffer[] = [];
  private size = 0;
  private headerEnd = -1;
  private length = -1;
  private chunked = false;
  status = 0;

  /** Adds a chunk; true once the whole answer is in. */
  push(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.headerEnd < 0) {
      const all = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks);
      const end = all.indexOf("\r\n\r\n");
      if (end < 0) return false;
      this.headerEnd = end + 4;
      const head = all.toString("latin1", 0, end);
      this.status = Number(head.slice(9, 12));
      const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (cl) this.length = Number(cl[1]);
      else this.chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
    }
    if (this.length >= 0) return this.size - this.headerEnd >= this.length;
    if (this.chunked) return Buffer.concat(this.chunks).subarray(-5).toString("latin1") === "0\r\n\r\n";
    return false;
  }

  /**
   * Whether the answer is whole now that the server closed the connection:
   * a body with neither Content-Length nor chunked encoding ends there. (Bun
   * closes a `Connection: close` exchange without echoing the header; the
   * answer it sent is complete all the same.)
   */
  completeAtClose(): boolean {
    return this.headerEnd >= 0 && this.length < 0 && !this.chunked;
  }

  /** The body (chunked bodies de-chunked). */
  body(): string {
    const raw = Buffer.concat(this.chunks).subarray(this.headerEnd);
    if (!this.chunked) return raw.toString("utf8", 0, this.length < 0 ? raw.length : this.length);
    let out = "";
    let at = 0;
    for (;;) {
      const eol = raw.indexOf("\r\n", at);
      const n = Number.parseInt(raw.toString("latin1", at, eol), 16);
      if (!n) return out;
      out += raw.toString("utf8", eol + 2, eol + 2 + n);
      at = eol + 4 + n;
    }
  }
}

const requestText = (host: string, path: string, keepAlive: boolean) =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: chamicore-bench\r\nAccept: */*\r\n${
    keepAlive ? "" : "Connection: close\r\n"
  }\r\n`;

class Tally {
  ok = 0;
  errors = new Map<string, number>();
  latencies: number[] = [];
  sequences: number[] = [];
  requests = 0;
  fail(reason: string) {
    this.errors.set(reason, (this.errors.get(reason) ?? 0) + 1);
  }
  outcome(elapsedMs: number, peakInFlight: number): Outcome {
    return {
      ok: this.ok,
      errors: this.errors,
      latencies: Float64Array.from(this.latencies).sort(),
      elapsedMs,
      peakInFlight,
      requests: this.requests,
      ...(this.sequences.length ? { sequences: Float64Array.from(this.sequences).sort() } : {}),
    };
  }
}

/**
 * Requests in flight on their own connection, by deadline: one sweep every
 * 100 ms times them out, which costs the generator less than a timer per
 * socket (at 10,000 new connections a second, it counts).
 */
const deadlines = new Map<() => void, number>();
let sweeper: NodeJS.Timeout | undefined;
function sweep() {
  const now = performance.now();
  for (const [expire, at] of deadlines) if (at <= now) expire();
  if (deadlines.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/**
 * One request on a new connection (closed after the answer): calls `done`
 * with why it failed (connection error, timeout) or with the answer.
 */
function exchangeOnce(
  ep: Endpoint,
  req: Request,
  timeoutMs: number,
  done: (error: string | undefined, answer: Answer) => void,
) {
  const answer = new Answer();
  let settled = false;
  const settle = (error?: string) => {
    if (settled) return;
    settled = true;
    deadlines.delete(expire);
    socket.destroy();
    done(error, answer);
  };
  const expire = () => settle("timeout");
  // No setNoDelay: the request is one write, which Nagle's algorithm never holds back.
  const socket: Socket = connect({ host: ep.host, port: ep.port, localAddress: req.localAddress });
  deadlines.set(expire, performance.now() + timeoutMs);
  sweeper ??= setInterval(sweep, 100);
  socket.once("connect", () => socket.write(requestText(ep.host, req.path, false)));
  socket.on("data", (chunk: Buffer) => {
    if (answer.push(chunk)) settle();
  });
  const closed = (reason: string) => settle(answer.completeAtClose() ? undefined : reason);
  socket.once("error", (e: NodeJS.ErrnoException) => closed(e.code ?? e.message));
  socket.once("close", () => closed("closed before the answer"));
}

/**
 * `count` arrivals at `rate` per second, each making `steps` requests one
 * after the other (default 1), each on a new connection closed after its
 * answer. A request's latency runs from when its arrival was due (the
 * first) or from when the answer before it came in (the next ones); an
 * arrival stops at its first failed request.
 */
export function openLoop(
  ep: Endpoint,
  opts: {
    count: number;
    rate: number;
    steps?: number;
    request: (i: number, step: number) => Request;
    check?: (status: number, body: string, i: number, step: number) => string | undefined;
    timeoutMs?: number;
  },
): Promise<Outcome> {
  const { count, rate, request, check } = opts;
  const steps = opts.steps ?? 1;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const tally = new Tally();
  let inFlight = 0;
  let peak = 0;
  let done = 0;
  return new Promise((resolve) => {
    const start = performance.now() + 2;
    const finish = () => {
      if (++done === count) resolve(tally.outcome(performance.now() - start, peak));
    };
    const fire = (i: number, step: number, due: number, from: number) => {
      if (++inFlight > peak) peak = inFlight;
      tally.requests++;
      exchangeOnce(ep, request(i, step), timeoutMs, (error, answer) => {
        inFlight--;
        const wrong = error ?? check?.(answer.status, answer.body(), i, step);
        if (wrong) {
          tally.fail(wrong);
          finish();
          return;
        }
        const now = performance.now();
        tally.ok++;
        tally.latencies.push(now - from);
        if (step + 1 < steps) fire(i, step + 1, due, now);
        else {
          if (steps > 1) tally.sequences.push(now - due);
          finish();
        }
      });
    };
    let next = 0;
    const tick = () => {
      const now = performance.now();
      const due = Math.min(count, Math.floor(((now - start) * rate) / 1000) + 1);
      while (next < due) {
        const at = start + (next * 1000) / rate;
        fire(next, 0, at, at);
        next++;
      }
      if (next < count) setTimeout(tick, 1);
    };
    setTimeout(tick, 2);
  });
}

/**
 * Asks for `req` over and over (a new connection each, every `everyMs`)
 * until `check` passes; resolves with performance.now() at that answer.
 * For the time from a server's exec to its first correct answer.
 */
export function firstAnswer(
  ep: Endpoint,
  req: Request,
  check: (status: number, body: string) => string | undefined,
  opts: { timeoutMs?: number; everyMs?: number } = {},
): Promise<number> {
  const deadline = performance.now() + (opts.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    const attempt = () =>
      exchangeOnce(ep, req, 5000, (error, answer) => {
        const now = performance.now();
        const wrong = error ?? check(answer.status, answer.body());
        if (!wrong) resolve(now);
        else if (now > deadline) reject(new Error(`no correct answer from ${ep.host}:${ep.port}: ${wrong}`));
        else setTimeout(attempt, opts.everyMs ?? 2);
      });
    attempt();
  });
}

/**
 * `connections` kept-alive connections, each sending request after request
 * for `durationMs` (the first `warmupMs` are not counted). `onWindow` is
 * called when the counted window starts and when it ends (e.g. to read the
 * server's CPU time over exactly the requests counted).
 */
export async function closedLoop(
  ep: Endpoint,
  opts: {
    connections: number;
    durationMs: number;
    warmupMs?: number;
    request: (i: number) => Request;
    check?: Check;
    onWindow?: (edge: "start" | "end") => void;
  },
): Promise<Outcome & { rps: number }> {
  const { connections, durationMs, request, check } = opts;
  const warmupMs = opts.warmupMs ?? Math.min(1000, durationMs / 5);
  const tally = new Tally();
  let counter = 0;
  const t0 = performance.now();
  const measureFrom = t0 + warmupMs;
  const end = measureFrom + durationMs;
  const window = { started: false, ended: false };
  const mark = (edge: "start" | "end") => {
    if (edge === "start") window.started = true;
    else if (!window.started || window.ended) return;
    else window.ended = true;
    opts.onWindow?.(edge);
  };
  const marks = [
    setTimeout(() => mark("start"), warmupMs),
    setTimeout(() => mark("end"), warmupMs + durationMs),
  ];
  const run = (k: number) =>
    new Promise<void>((resolve) => {
      const socket = connect({ host: ep.host, port: ep.port });
      socket.setNoDelay(true);
      let answer = new Answer();
      let sentAt = 0;
      let i = 0;
      const send = () => {
        if (performance.now() >= end) {
          socket.destroy();
          resolve();
          return;
        }
        i = counter++;
        answer = new Answer();
        sentAt = performance.now();
        socket.write(requestText(ep.host, request(i).path, true));
      };
      socket.once("connect", send);
      socket.on("data", (chunk: Buffer) => {
        if (!answer.push(chunk)) return;
        const now = performance.now();
        if (sentAt >= measureFrom && now <= end) {
          const wrong = check?.(answer.status, answer.body(), i);
          if (wrong) tally.fail(wrong);
          else {
            tally.ok++;
            tally.latencies.push(now - sentAt);
          }
        }
        send();
      });
      socket.once("error", (e: NodeJS.ErrnoException) => {
        tally.fail(`connection ${k}: ${e.code ?? e.message}`);
        resolve();
      });
      socket.once("close", () => resolve());
    });
  await Promise.all(Array.from({ length: connections }, (_, k) => run(k)));
  for (const m of marks) clearTimeout(m);
  // The connections may all have seen the end before its timer ran.
  mark("end");
  tally.requests = tally.ok + errorCount(tally);
  const out = tally.outcome(durationMs, connections);
  return { ...out, rps: (out.ok * 1000) / durationMs };
}

/**
 * Opens `connections` keep-alive connections (at most `openRate` per second,
 * so the listen queue is not what is measured), sends one request on each,
 * holds them all idle for `holdMs`, then sends one more request on each.
 * `during` runs while they are all held (e.g. to read the server's memory).
 */
export async function holdIdle(
  ep: Endpoint,
  opts: {
    connections: number;
    holdMs: number;
    openRate?: number;
    request: (i: number) => Request;
    check?: Check;
    during?: () => Promise<void>;
    /** Told as each phase begins: opening (and first requests), holding, the second requests, closing. */
    phase?: (name: "open" | "hold" | "again" | "close") => void;
  },
): Promise<{ opened: number; first: Outcome; second: Outcome; closedByServer: number }> {
  const { connections, request, check } = opts;
  const openRate = opts.openRate ?? 2000;
  const first = new Tally();
  const second = new Tally();
  const sockets: (Socket | undefined)[] = [];
  let closedByServer = 0;
  const exchange = (socket: Socket, i: number, tally: Tally) =>
    new Promise<void>((resolve) => {
      const answer = new Answer();
      const t = performance.now();
      const onData = (chunk: Buffer) => {
        if (!answer.push(chunk)) return;
        cleanup();
        const wrong = check?.(answer.status, answer.body(), i);
        if (wrong) tally.fail(wrong);
        else {
          tally.ok++;
          tally.latencies.push(performance.now() - t);
        }
        resolve();
      };
      const onClose = () => {
        cleanup();
        tally.fail("closed by the server");
        resolve();
      };
      const cleanup = () => {
        socket.off("data", onData);
        socket.off("close", onClose);
      };
      socket.on("data", onData);
      socket.once("close", onClose);
      socket.write(requestText(ep.host, request(i).path, true));
    });

  const t0 = performance.now();
  opts.phase?.("open");
  const opening: Promise<void>[] = [];
  for (let i = 0; i < connections; i++) {
    const due = t0 + (i * 1000) / openRate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    opening.push(
      new Promise<void>((resolve) => {
        const socket = connect({ host: ep.host, port: ep.port });
        socket.setNoDelay(true);
        socket.once("error", (e: NodeJS.ErrnoException) => {
          first.fail(e.code ?? e.message);
          resolve();
        });
        socket.once("connect", () => {
          sockets[i] = socket;
          socket.on("close", () => {
            if (sockets[i]) closedByServer++;
          });
          void exchange(socket, i, first).then(resolve);
        });
      }),
    );
  }
  await Promise.all(opening);
  const firstDone = performance.now();
  opts.phase?.("hold");
  await opts.during?.();
  const wait = opts.holdMs - (performance.now() - firstDone);
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const closedDuringHold = closedByServer;
  opts.phase?.("again");
  await Promise.all(sockets.map((s, i) => (s && !s.destroyed ? exchange(s, i, second) : Promise.resolve())));
  const opened = sockets.filter(Boolean).length;
  opts.phase?.("close");
  for (let i = 0; i < sockets.length; i++) {
    const s = sockets[i];
    sockets[i] = undefined;
    s?.destroy();
  }
  return {
    opened,
    first: first.outcome(firstDone - t0, connections),
    second: second.outcome(0, connections),
    closedByServer: closedDuringHold,
  };
}
