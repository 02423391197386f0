/**
 * Network hops between the Worker and Postgres, on loopback, that tests can
 * cut to simulate a network fault.
 *
 * `startWsProxy`: the WebSocket-to-TCP proxy Neon runs in front of its
 * Postgres. Neon's serverless driver speaks the Postgres wire protocol over a
 * WebSocket, so a Worker reaches a plain Postgres only through one of these.
 * Each WebSocket connection opens one TCP socket to the address the driver
 * asks for (`?address=host:port`, loopback only) and pipes bytes both ways.
 *
 * `startTcpRelay`: a plain TCP relay to put behind a Hyperdrive binding.
 * Miniflare's local stand-in for Hyperdrive pipes to Postgres without error
 * handling: with Postgres down it leaves the Worker's socket open forever
 * and raises an unhandled ECONNREFUSED in the test process. Behind this
 * relay, which is always up and closes cleanly, it sees a closed connection
 * instead, as the Worker would from the real Hyperdrive.
 */
import { createConnection, createServer, type Socket } from "node:net";
import { WebSocketServer } from "ws";

/** A hop whose open connections a test can cut. */
export interface DbHop {
  /** Connections piping right now. */
  open(): number;
  /** Connections accepted since start. */
  accepted(): number;
  /** Drops every open connection at once; returns how many. */
  cut(): number;
  close(): Promise<void>;
}

export interface WsProxy extends DbHop {
  /** `ws://127.0.0.1:<port>`: what CHAMICORE_NEON_WS_PROXY is set to. */
  url: string;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

/** `port`: 0 for a free one, or a former proxy's, to bring it back where the Worker looks. */
export async function startWsProxy(port = 0): Promise<WsProxy> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", resolve);
    wss.once("error", reject);
  });
  const sockets = new Set<Socket>();
  let accepted = 0;

  wss.on("connection", (ws, req) => {
    accepted++;
    const address = new URL(req.url ?? "/", "http://proxy").searchParams.get("address") ?? "127.0.0.1:5432";
    const i = address.lastIndexOf(":");
    const host = address.slice(0, i).replace(/^\[|\]$/g, "");
    const targetPort = Number(address.slice(i + 1));
    // Only loopback: this runs in tests and must not become an open relay.
    if (!LOOPBACK.has(host) || !targetPort) {
      ws.close(1008, "address not allowed");
      return;
    }
    const tcp = createConnection({ host, port: targetPort });
    sockets.add(tcp);
    // The driver may write before the TCP side is connected; net buffers it.
    ws.on("message", (data: Buffer) => tcp.write(data));
    tcp.on("data", (chunk) => ws.send(chunk));
    const end = () => {
      sockets.delete(tcp);
      tcp.destroy();
      ws.terminate();
    };
    ws.on("close", end);
    ws.on("error", end);
    tcp.on("close", end);
    tcp.on("error", end);
  });

  return {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`,
    open: () => sockets.size,
    accepted: () => accepted,
    cut() {
      const n = sockets.size;
      // A reset, not a FIN: the way a dropped network or a killed proxy looks to both ends.
      for (const s of sockets) s.resetAndDestroy();
      for (const ws of wss.clients) ws.terminate();
      return n;
    },
    async close() {
      for (const s of sockets) s.destroy();
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

export interface TcpRelay extends DbHop {
  port: number;
}

/** Relays every connection to `target`; closes the client side when the target refuses or goes. */
export async function startTcpRelay(target: { host: string; port: number }): Promise<TcpRelay> {
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  const all = new Set<Socket>();
  let accepted = 0;
  const server = createServer((client) => {
    accepted++;
    all.add(client);
    client.on("close", () => all.delete(client));
    const upstream = createConnection(target);
    const pair = { client, upstream };
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    // A FIN, not a reset, toward the client: Miniflare's proxy passes an end on, but not an error.
    const endClient = () => {
      pairs.delete(pair);
      client.end();
    };
    upstream.on("error", endClient);
    upstream.on("close", endClient);
    const dropUpstream = () => {
      pairs.delete(pair);
      upstream.destroy();
    };
    client.on("error", dropUpstream);
    client.on("close", dropUpstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    open: () => pairs.size,
    accepted: () => accepted,
    cut() {
      const n = pairs.size;
      for (const { client, upstream } of [...pairs]) {
        upstream.resetAndDestroy();
        client.end();
      }
      return n;
    },
    async close() {
      for (const { upstream } of pairs) upstream.destroy();
      // server.close() waits for every connection, half-closed ones included.
      for (const client of all) client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
