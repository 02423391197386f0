/**
 * NATS for tests: a private nats-server with JetStream (so a test may stop
 * and restart it), unique stream names and subject prefixes per run, and a
 * reader of everything a stream holds.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { workStreamName } from "../../shared/work";
import { freePort } from "./process";

/** The machine's shared NATS, for tests that only need a working server. */
export const SHARED_NATS_URL = process.env.CHAMICORE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

/** A stream name and subject prefix no other run uses. */
export function uniqueStream(label: string) {
  const tag = `${label}_${process.pid}_${Math.random().toString(16).slice(2, 8)}`;
  return { stream: `TEST_${tag}`.toUpperCase(), prefix: `test.${tag}` };
}

export interface PrivateNats {
  url: string;
  /** `ws://` URL of its WebSocket listener (what a Worker connects to). */
  wsUrl: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

/** A nats-server of our own on a free port, keeping its JetStream data across stop/start. */
export async function privateNats(): Promise<PrivateNats> {
  const port = await freePort();
  const wsPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "chamicore-nats-"));
  const conf = join(dir, "nats.conf");
  writeFileSync(
    conf,
    `listen: "127.0.0.1:${port}"\njetstream { store_dir: "${dir}/js" }\nwebsocket { listen: "127.0.0.1:${wsPort}", no_tls: true }\n`,
  );
  let child: ChildProcess | undefined;
  const url = `nats://127.0.0.1:${port}`;
  const self: PrivateNats = {
    url,
    wsUrl: `ws://127.0.0.1:${wsPort}`,
    async start() {
      child = spawn("nats-server", ["-c", conf], { stdio: "ignore" });
      for (let i = 0; i < 100; i++) {
        try {
          const nc = await connect({ servers: url, reconnect: false, timeout: 500 });
          await nc.close();
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw new Error(`nats-server did not start on ${url}`);
    },
    async stop() {
      if (!child) return;
      const c = child;
      child = undefined;
      await new Promise<void>((resolve) => {
        c.once("exit", () => resolve());
        c.kill("SIGTERM");
      });
    },
    async dispose() {
      await self.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await self.start();
  return self;
}

export interface StreamMessage {
  seq: number;
  subject: string;
  msgId: string | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: events are inspected freely.
  event: any;
}

/** Every message a stream holds, in stream order; [] if the stream does not exist. */
export async function readStream(url: string, stream: string): Promise<StreamMessage[]> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    let info: Awaited<ReturnType<typeof jsm.streams.info>>;
    try {
      info = await jsm.streams.info(stream);
    } catch {
      return [];
    }
    const out: StreamMessage[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      if (!m) continue;
      out.push({ seq, subject: m.subject, msgId: m.header?.get("Nats-Msg-Id"), event: m.json() });
    }
    return out;
  } finally {
    await nc.close();
  }
}

/**
 * Deletes a run's event stream and the work stream named after it (which
 * an edge with NATS creates at start: shared/work-stream.ts).
 */
export async function deleteStream(url: string, stream: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    for (const name of [stream, workStreamName(stream)]) await jsm.streams.delete(name).catch(() => {});
  } finally {
    await nc.close();
  }
}

/** Waits until `check` holds (polling), or fails with `what`. */
export async function eventually<T>(
  what: string,
  get: () => Promise<T>,
  check: (v: T) => boolean,
  ms = 15_000,
) {
  const deadline = Date.now() + ms;
  let last: T = await get();
  while (!check(last)) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await get();
  }
  return last;
}
