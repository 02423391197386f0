/**
 * One trace from an API write to every edge that applied it, with real
 * processes: `chamicore serve` on Postgres with NATS, two `chamicore edge`
 * processes following it (on Node, and the single executable in the
 * edge-exe project), all exporting over OTLP/HTTP to a receiver in the
 * test. A write sent with a `traceparent` yields, in that trace: the
 * request's server span, its database transaction, the outbox publish
 * under the transaction, and one apply span
 * per edge under the publish, and the Kea write that followed on the edge
 * with Kea (Debian's Kea 2.2) under its apply; the control plane's log
 * lines for the request carry its trace and span ids. The Worker build in
 * workerd does the same over its WebSocket relay, exporting with fetch.
 */
import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { startBmc } from "../support/bmc";
import {
  type ControlPlane,
  cleanupAfterAll,
  createEdgeAccount,
  edgeDataDir,
  edgeEnv,
  edgeReady,
  startControlPlane,
  startEdge,
} from "../support/edge-site";
import { type RunningKea, startKea } from "../support/kea";
import { eventually, privateNats, readStream, uniqueStream } from "../support/nats";
import { type ReceivedSpan, startOtlpReceiver } from "../support/otlp";
import { workerTarget } from "../support/targets";

/** Waits until the edge is ready and follows NATS (its apply spans then come from the stream). */
async function onTheStream(e: { url: string }, name: string) {
  await edgeReady(e);
  await eventually(
    `${name} on the stream`,
    async () => ((await (await fetch(`${e.url}/status`)).json()) as { mode: string }).mode,
    (m) => m === "stream",
    30_000,
  );
}

const SERVER = 2;
const PRODUCER = 4;
const CONSUMER = 5;

describe("tracing", () => {
  const cleanup = cleanupAfterAll();
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let cp: ControlPlane;
  let kea: RunningKea;
  const edges: { url: string }[] = [];

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    cleanup.push(() => receiver.close());
    kea = await startKea({ dhcp4: { subnet4: [{ id: 1, subnet: "10.214.1.0/24" }] } });
    cleanup.push(() => kea.stop());
    // Batches leave every 200 ms, so the test waits for spans, not for the default 5 s.
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "200" };
    cp = await startControlPlane(cleanup, { database: "tracing", ...uniqueStream("tracing"), env: otel });
    for (const name of ["rack-a", "rack-b"]) {
      const creds = await createEdgeAccount(cp.api, `edge-${name}`);
      const e = await startEdge(
        cleanup,
        edgeEnv(cp, creds, edgeDataDir(cleanup, name), {
          ...otel,
          CHAMICORE_EDGE_NAME: name,
          // rack-a keeps Kea's reservations; rack-b runs the power work of site east.
          ...(name === "rack-a" ? { KEA_CONTROL_URL: kea.url } : { CHAMICORE_EDGE_SITE: "east" }),
        }),
      );
      await onTheStream(e, name);
      edges.push(e);
    }
  }, 120_000);

  it("follows a write from the API request through the outbox and NATS to both edges' apply", async () => {
    const traceId = randomBytes(16).toString("hex");
    const callerSpan = randomBytes(8).toString("hex");
    const res = await fetch(`${cp.control.url}/hsm/v2/State/Components`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${cp.token}`,
        "Content-Type": "application/json",
        traceparent: `00-${traceId}-${callerSpan}-01`,
      },
      body: JSON.stringify({ id: "x1000c0s0b0n0", state: "Ready" }),
    });
    expect(res.status).toBe(201);

    const spans = () => receiver.trace(traceId);
    const applied = (s: ReceivedSpan[]) => s.filter((x) => x.name === "chamicore.edge.apply");
    await eventually(
      "both edges' apply spans",
      async () => applied(spans()).length,
      (n) => n >= 2,
      20_000,
    );

    const all = spans();
    const request = all.find((s) => s.kind === SERVER && s.service === "chamicore-control");
    expect(request).toMatchObject({
      name: "POST /hsm/v2/State/Components",
      parentSpanId: callerSpan,
      attributes: {
        "http.route": "/hsm/v2/State/Components",
        "http.response.status_code": 201,
        "enduser.id": "ops",
      },
    });
    // The write's transaction under the request, and the publish of its event under the transaction.
    const publish = all.find((s) => s.name === "chamicore.outbox.publish");
    expect(publish).toMatchObject({ kind: PRODUCER, service: "chamicore-control" });
    expect(publish!.attributes["messaging.destination.name"]).toMatch(/components\.created$/);
    const tx = all.find((s) => s.spanId === publish!.parentSpanId);
    expect(tx).toMatchObject({ name: "db.transaction", kind: 3, parentSpanId: request!.spanId });
    const applies = applied(all);
    expect(applies.map((s) => s.instance).sort()).toEqual(["rack-a", "rack-b"]);
    for (const a of applies)
      expect(a).toMatchObject({
        kind: CONSUMER,
        service: "chamicore-edge",
        parentSpanId: publish!.spanId,
        attributes: {
          "chamicore.feed.source": "stream",
          "chamicore.event.type": "chamicore.smd.components.created",
        },
      });

    // The control plane's log lines of the request carry the trace.
    const lines = cp.control
      .output()
      .split("\n")
      .filter((l) => l.includes(traceId));
    expect(lines.length).toBeGreaterThan(0);
    expect(JSON.parse(lines[0]!)).toMatchObject({ trace_id: traceId, span_id: request!.spanId });
  });

  it("follows an imported node to the Kea write its reservation took", async () => {
    const traceId = randomBytes(16).toString("hex");
    const res = await fetch(`${cp.control.url}/hsm/v2/import`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${cp.token}`,
        "Content-Type": "application/json",
        traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01`,
      },
      body: JSON.stringify({
        components: [
          {
            id: "x1000c0s1b0n0",
            type: "Node",
            interfaces: [{ macAddress: "02:00:00:21:40:01", ipAddresses: [{ ipAddress: "10.214.1.21" }] }],
          },
        ],
      }),
    });
    expect(res.status, await res.text()).toBeLessThan(300);
    await eventually(
      "the Kea write in the trace",
      async () => receiver.trace(traceId).filter((s) => s.name === "chamicore.kea.write"),
      (w) => w.length > 0,
      20_000,
    );
    const spans = receiver.trace(traceId);
    const write = spans.find((s) => s.name === "chamicore.kea.write")!;
    const applies = spans.filter((s) => s.name === "chamicore.edge.apply" && s.instance === "rack-a");
    expect(write).toMatchObject({ service: "chamicore-edge", instance: "rack-a", kind: 3 });
    expect(applies.map((a) => a.spanId)).toContain(write.parentSpanId);
    expect(write.attributes).toMatchObject({ "chamicore.kea.applied": 1, "chamicore.kea.refused": 0 });
    // And the reservation is in Kea.
    const config = await kea.command("config-get");
    const reservations = (config.arguments as { Dhcp4: { subnet4: { reservations?: object[] }[] } }).Dhcp4
      .subnet4[0]!.reservations;
    expect(reservations).toContainEqual(expect.objectContaining({ "ip-address": "10.214.1.21" }));
  });

  it("traces an edge request its caller traces, and keeps about 1% of those nobody traces", async () => {
    const edgeServer = () =>
      receiver.spans.filter((s) => s.service === "chamicore-edge" && s.kind === SERVER);
    const before = edgeServer().length;
    // A route of the normal stack, and a boot script, answered by the hot path before it.
    const bootscript = `${edges[0]!.url}/boot/v1/bootscript?mac=02:00:00:99:00:01`;
    for (const [url, name] of [
      [`${edges[0]!.url}/status`, "GET /status"],
      [bootscript, "GET /boot/v1/bootscript"],
    ] as const) {
      const traceId = randomBytes(16).toString("hex");
      const caller = randomBytes(8).toString("hex");
      const res = await fetch(url, { headers: { traceparent: `00-${traceId}-${caller}-01` } });
      expect(res.status).toBe(200);
      await eventually(
        `the traced ${name}'s span`,
        async () => receiver.trace(traceId),
        (t) => t.length === 1,
      );
      expect(receiver.trace(traceId)[0]).toMatchObject({
        name,
        kind: SERVER,
        instance: "rack-a",
        parentSpanId: caller,
        attributes: { "http.response.status_code": 200 },
      });
    }
    // 200 untraced requests of each at the edge's default 1%: a handful at most.
    for (let i = 0; i < 200; i++) {
      await fetch(`${edges[0]!.url}/status`);
      await (await fetch(bootscript)).text();
    }
    await new Promise((r) => setTimeout(r, 600));
    expect(edgeServer().length - before - 2).toBeLessThan(20);
  });

  it("follows a power transition to each Redfish request of the edge that ran it", async () => {
    const bmc = await startBmc({ initialPowerState: "Off" });
    cleanup.push(() => bmc.close());
    expect(
      (
        await cp.api("POST", "/auth/v1/credentials", {
          id: "bmc-cred",
          name: "BMC",
          type: "redfish",
          username: "admin",
          secret: "password",
        })
      ).status,
    ).toBe(201);
    const components = [
      { id: "x1000c1s0b0", type: "NodeBMC" },
      { id: "x1000c1s0b0n0", type: "Node", parentId: "x1000c1s0b0", state: "Off" },
    ];
    expect((await cp.api("POST", "/hsm/v2/import", { components })).status).toBe(201);
    const endpoint = { id: "x1000c1s0b0", address: bmc.url, credentialId: "bmc-cred", site: "east" };
    expect((await cp.api("POST", "/power/v1/bmcs", endpoint)).status).toBe(201);

    const traceId = randomBytes(16).toString("hex");
    const res = await fetch(`${cp.control.url}/power/v1/transitions`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${cp.token}`,
        "Content-Type": "application/json",
        traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01`,
      },
      body: JSON.stringify({ operation: "on", location: [{ xname: "x1000c1s0b0n0" }] }),
    });
    expect(res.status).toBe(201);
    const id = ((await res.json()) as { metadata: { id: string } }).metadata.id;
    await eventually(
      "the transition to complete",
      async () => (await cp.api("GET", `/power/v1/transitions/${id}`)).json.spec.state,
      (s) => s === "completed",
      30_000,
    );
    // Each process exports its own batches: wait for the edge's run and the control plane's last answer to it.
    await eventually(
      "the edge's run and the results it reported, in the trace",
      async () => receiver.trace(traceId).map((s) => s.name),
      (names) => names.includes("chamicore.work.run") && names.includes("POST /power/v1/agent/results"),
      20_000,
    );
    const spans = receiver.trace(traceId);
    const request = spans.find((s) => s.kind === SERVER && s.name === "POST /power/v1/transitions")!;
    expect(request).toMatchObject({ service: "chamicore-control" });
    const dispatch = spans.find((s) => s.name === "chamicore.work.dispatch");
    expect(dispatch).toMatchObject({
      service: "chamicore-control",
      kind: PRODUCER,
      attributes: {
        "chamicore.site": "east",
        "chamicore.power.transition_id": id,
        "chamicore.power.tasks": 1,
      },
    });
    const run = spans.find((s) => s.name === "chamicore.work.run");
    expect(run).toMatchObject({
      service: "chamicore-edge",
      instance: "rack-b",
      kind: CONSUMER,
      parentSpanId: dispatch!.spanId,
    });
    // Every BMC request under the run: the reset among them, with the BMC's URL and answer, no credentials.
    const calls = spans.filter((s) => s.name.startsWith("Redfish "));
    expect(calls.length).toBeGreaterThanOrEqual(2);
    for (const c of calls) {
      expect(c).toMatchObject({ service: "chamicore-edge", kind: 3, parentSpanId: run!.spanId });
      expect(String(c.attributes["url.full"])).toMatch(new RegExp(`^${bmc.url}/redfish/v1/`));
      expect(JSON.stringify(c.attributes)).not.toContain("password");
    }
    expect(calls).toContainEqual(
      expect.objectContaining({
        name: "Redfish POST",
        attributes: expect.objectContaining({
          "url.full": expect.stringMatching(/ComputerSystem\.Reset$/),
          "http.response.status_code": expect.any(Number),
        }),
      }),
    );
    expect(bmc.resets.map((r) => r.resetType)).toEqual(["On"]);
    // The control plane's answers to the edge's agent calls are spans of the same trace, under the run.
    const agentCalls = spans.filter(
      (s) => s.service === "chamicore-control" && s.parentSpanId === run!.spanId,
    );
    expect(agentCalls.map((s) => s.name)).toEqual(
      expect.arrayContaining(["POST /power/v1/agent/jobs/:transitionId", "POST /power/v1/agent/results"]),
    );
  });
});

describe("tracing on the Worker", () => {
  const cleanup = cleanupAfterAll();
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let url: string;
  let token: string;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    cleanup.push(() => receiver.close());
    const nats = await privateNats();
    cleanup.push(() => nats.dispose());
    const { stream, prefix } = uniqueStream("worker_tracing");
    const t = await workerTarget(
      {
        NATS_URL: nats.wsUrl,
        CHAMICORE_NATS_STREAM: stream,
        CHAMICORE_NATS_SUBJECT_PREFIX: prefix,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      },
      { artifacts: false },
    );
    cleanup.push(() => t.stop());
    url = t.url!;
    token = t.adminToken;
    // The relay makes the stream with its first publish: a first write, so the edges find it.
    expect((await t.call("POST", "/hsm/v2/State/Components", { body: { id: "x2000c0s9b0n0" } })).status).toBe(
      201,
    );
    await eventually(
      "the stream",
      () => readStream(nats.url, stream),
      (m) => m.length === 1,
    );
    for (const name of ["rack-a", "rack-b"]) {
      const sa = await t.call("POST", "/auth/v1/service-accounts", {
        body: { id: `edge-${name}`, roles: ["edge"] },
      });
      expect(sa.status, sa.text).toBe(201);
      const e = await startEdge(cleanup, {
        CHAMICORE_CONTROL_URL: url,
        CHAMICORE_EDGE_CLIENT_ID: `edge-${name}`,
        CHAMICORE_EDGE_CLIENT_SECRET: sa.json.spec.clientSecret,
        CHAMICORE_EDGE_DATA_DIR: edgeDataDir(cleanup, `w-${name}`),
        CHAMICORE_EDGE_NAME: name,
        CHAMICORE_EDGE_POLL_SECONDS: "0.5",
        NATS_URL: nats.url,
        CHAMICORE_NATS_STREAM: stream,
        CHAMICORE_NATS_SUBJECT_PREFIX: prefix,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: "200",
      });
      await onTheStream(e, name);
    }
  }, 180_000);

  it("follows a write on the Worker through its relay to both edges' apply", async () => {
    const traceId = randomBytes(16).toString("hex");
    const res = await fetch(`${url}/hsm/v2/State/Components`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/json",
        traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01`,
      },
      body: JSON.stringify({ id: "x2000c0s0b0n0", state: "Ready" }),
    });
    expect(res.status).toBe(201);
    await eventually(
      "both edges' apply spans",
      async () => receiver.trace(traceId).filter((s) => s.name === "chamicore.edge.apply").length,
      (n) => n >= 2,
      20_000,
    );
    const all = receiver.trace(traceId);
    const request = all.find((s) => s.kind === SERVER && s.service === "chamicore-control")!;
    expect(request.name).toBe("POST /hsm/v2/State/Components");
    const publish = all.find((s) => s.name === "chamicore.outbox.publish");
    expect(publish).toMatchObject({ kind: PRODUCER, service: "chamicore-control" });
    const tx = all.find((s) => s.spanId === publish!.parentSpanId);
    expect(tx).toMatchObject({ name: "db.transaction", parentSpanId: request.spanId });
    const applies = all.filter((s) => s.name === "chamicore.edge.apply");
    expect(applies.map((s) => s.instance).sort()).toEqual(["rack-a", "rack-b"]);
    for (const a of applies) expect(a.parentSpanId).toBe(publish!.spanId);
  });
});
