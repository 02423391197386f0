/**
 * The merge of a node's payloads (role, groups by name, component: most
 * specific wins): the rules one by one, then golden tests of exact served
 * text for real-looking configurations.
 */
import { describe, expect, it } from "vitest";
import {
  EMPTY_CLOUD_CONFIG,
  layersOf,
  mergeDocuments,
  mergeMetaData,
  mergeValues,
  renderDocument,
} from "../../functions/cloud-init/merge";
import type { Payload } from "../../functions/cloud-init/schemas";
import { bindingAllows } from "../../functions/cloud-init/service";
import type { NodeFacts } from "../../functions/cloud-init/store";

const payload = (p: Partial<Payload> & { id: string }): Payload => ({
  componentId: null,
  group: null,
  role: null,
  userData: null,
  metaData: null,
  vendorData: null,
  bindToAddress: false,
  ...p,
});

const node: NodeFacts = {
  id: "x1000c0s0b0n0",
  nid: 1,
  role: "Compute",
  groups: ["rack-x1000", "gpu"],
  interfaces: [
    {
      id: "a4bf0138ee65",
      macAddress: "a4:bf:01:38:ee:65",
      ipAddresses: [
        { ipAddress: "10.1.0.17", network: "mgmt" },
        { ipAddress: "10.2.0.17", network: "hsn" },
      ],
    },
  ],
};

describe("mergeValues", () => {
  it("merges maps recursively; the later value wins any other clash", () => {
    expect(
      mergeValues(
        { a: 1, m: { x: 1, y: { deep: true } }, s: "old", l: [1], t: { k: 1 } },
        { a: 2, m: { y: { deeper: 1 }, z: 3 }, s: ["now", "a", "list"], t: null },
      ),
    ).toEqual({
      a: 2,
      m: { x: 1, y: { deep: true, deeper: 1 }, z: 3 },
      s: ["now", "a", "list"],
      l: [1],
      t: null,
    });
  });

  it("concatenates lists, leaving out later items equal to one already there", () => {
    expect(mergeValues(["vim", "git"], ["htop", "vim"])).toEqual(["vim", "git", "htop"]);
    expect(
      mergeValues([{ name: "ops", groups: ["wheel"] }], [{ groups: ["wheel"], name: "ops" }, { name: "b" }]),
    ).toEqual([{ name: "ops", groups: ["wheel"] }, { name: "b" }]);
    // Equal means the same type too.
    expect(mergeValues([1, "a"], ["1", 1, true])).toEqual([1, "a", "1", true]);
  });

  it("keeps repeats within one payload's own list", () => {
    expect(mergeValues(["a"], ["b", "b"])).toEqual(["a", "b", "b"]);
  });

  it("does not modify its inputs and treats __proto__ as a plain key", () => {
    const base = { m: { a: 1 }, l: [1] };
    const over = JSON.parse('{"m": {"b": 2}, "l": [2], "__proto__": {"polluted": true}}');
    const out = mergeValues(base, over) as Record<string, unknown>;
    expect(base).toEqual({ m: { a: 1 }, l: [1] });
    expect(Object.keys(out)).toEqual(["m", "l", "__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((out as { polluted?: unknown }).polluted).toBeUndefined();
  });
});

describe("layersOf", () => {
  it("orders role, then groups by name, then the component; ignores payloads for others", () => {
    const layers = layersOf(node, [
      payload({ id: "own", componentId: node.id }),
      payload({ id: "other-node", componentId: "x1000c0s0b0n1" }),
      payload({ id: "rack", group: "rack-x1000" }),
      payload({ id: "storage", role: "Storage" }),
      payload({ id: "gpu", group: "gpu" }),
      payload({ id: "compute", role: "Compute" }),
      payload({ id: "other-group", group: "login" }),
    ]);
    expect(layers.map((l) => l.id)).toEqual(["compute", "gpu", "rack", "own"]);
  });

  it("orders group names by code point, not by locale", () => {
    const n = { ...node, groups: ["b", "B", "a"] };
    const layers = layersOf(n, [
      payload({ id: "1", group: "b" }),
      payload({ id: "2", group: "a" }),
      payload({ id: "3", group: "B" }),
    ]);
    expect(layers.map((l) => l.group)).toEqual(["B", "a", "b"]);
  });
});

describe("mergeDocuments", () => {
  it("is undefined with nothing to merge", () => {
    expect(mergeDocuments([])).toBeUndefined();
  });

  it("serves a single #cloud-config exactly as stored", () => {
    const text = "#cloud-config\n# keep this comment\npackages: [vim] # and this\n";
    expect(mergeDocuments([text])).toEqual({ body: text, contentType: "text/cloud-config; charset=utf-8" });
  });

  it("serves an empty #cloud-config as an empty mapping", () => {
    expect(mergeDocuments(["#cloud-config\n"])?.body).toBe(EMPTY_CLOUD_CONFIG);
  });

  it("lets a more specific script replace everything before it", () => {
    const script = "#!/bin/sh\necho hello\n";
    expect(mergeDocuments(["#cloud-config\npackages: [vim]\n", script])).toEqual({
      body: script,
      contentType: "text/plain; charset=utf-8",
    });
  });

  it("lets a #cloud-config landing on a script replace it, and merge with what follows", () => {
    expect(
      mergeDocuments([
        "#cloud-config\npackages: [a]\n",
        "#!/bin/sh\ntrue\n",
        "#cloud-config\npackages: [b]\n",
        "#cloud-config\npackages: [c]\n",
      ])?.body,
    ).toBe("#cloud-config\npackages:\n  - b\n  - c\n");
  });

  it("does not merge jinja templates: they replace like scripts", () => {
    const jinja = "## template: jinja\n#cloud-config\nhostname: {{ v1.local_hostname }}\n";
    expect(mergeDocuments(["#cloud-config\na: 1\n", jinja])?.body).toBe(jinja);
  });
});

describe("mergeMetaData", () => {
  it("defaults instance-id and local-hostname, lets payloads override them, and adds the facts", () => {
    expect(mergeMetaData({ ...node, groups: [], interfaces: [] }, [])).toEqual({
      chamicore: { id: node.id, nid: 1, role: "Compute", groups: [], addresses: [], macAddresses: [] },
      "instance-id": `iid-${node.id}`,
      "local-hostname": node.id,
    });
    const md = mergeMetaData(node, [
      payload({ id: "r", role: "Compute", metaData: { "local-hostname": "compute", tags: ["a"] } }),
      payload({ id: "c", componentId: node.id, metaData: { "local-hostname": "cn0001", tags: ["b"] } }),
    ]);
    expect(md["local-hostname"]).toBe("cn0001");
    expect(md.tags).toEqual(["a", "b"]);
  });

  it("sorts keys at every level, whatever order the store kept them in", () => {
    const a = mergeMetaData(node, [
      payload({ id: "r", role: "Compute", metaData: { z: { b: 1, a: 2 }, y: 0 } }),
    ]);
    const b = mergeMetaData(node, [
      payload({ id: "r", role: "Compute", metaData: { y: 0, z: { a: 2, b: 1 } } }),
    ]);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(Object.keys(a)).toEqual(["chamicore", "instance-id", "local-hostname", "y", "z"]);
  });
});

describe("bindingAllows", () => {
  const bound = payload({
    id: "own",
    componentId: node.id,
    userData: "#cloud-config\na: 1\n",
    bindToAddress: true,
  });
  const open = payload({
    id: "role",
    role: "Compute",
    userData: "#cloud-config\nb: 1\n",
    metaData: { x: 1 },
  });

  it("serves bound documents only to the node's own addresses", () => {
    expect(bindingAllows("user-data", node, [open, bound], "10.2.0.17")).toBe(true);
    expect(bindingAllows("user-data", node, [open, bound], "10.9.9.9")).toBe(false);
    expect(bindingAllows("user-data", node, [open, bound], undefined)).toBe(false);
  });

  it("binds only the documents a bound payload contributes to", () => {
    expect(bindingAllows("meta-data", node, [open, bound], "10.9.9.9")).toBe(true);
    expect(bindingAllows("vendor-data", node, [open, bound], "10.9.9.9")).toBe(true);
    expect(bindingAllows("user-data", node, [open], "10.9.9.9")).toBe(true);
  });

  it("compares addresses in canonical form", () => {
    const v6 = {
      ...node,
      interfaces: [{ id: "i", macAddress: "m", ipAddresses: [{ ipAddress: "FD00:0::17", network: null }] }],
    };
    expect(bindingAllows("user-data", v6, [bound], "fd00::17")).toBe(true);
  });
});

// ---------- golden tests: exact served text ----------

const computeRole = payload({
  id: "compute",
  role: "Compute",
  userData: `#cloud-config
package_update: true
packages: [chrony, munge, slurm-client]
ntp:
  enabled: true
  servers: [10.0.0.2, 10.0.0.3]
timezone: UTC
users:
  - name: ops
    groups: [wheel]
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    ssh_authorized_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGw3rSgNnSBpJtU3Pz0R ops@site
runcmd:
  - [systemctl, enable, --now, munge]
  - [systemctl, restart, slurmd]
`,
  vendorData: "#cloud-config\nchpasswd:\n  expire: false\n",
  metaData: { site: { name: "zrh", building: "B1" } },
});
const gpuGroup = payload({
  id: "gpu",
  group: "gpu",
  userData: `#cloud-config
packages:
  - nvidia-driver
  - cuda-toolkit
write_files:
  - path: /etc/modprobe.d/nouveau.conf
    content: |
      blacklist nouveau
    permissions: '0644'
runcmd:
  - [systemctl, enable, --now, nvidia-persistenced]
`,
});
const rackGroup = payload({
  id: "rack",
  group: "rack-x1000",
  userData: "#cloud-config\nntp:\n  servers: [10.1.0.2]\ntimezone: Europe/Zurich\n",
  metaData: { rack: "x1000", site: { building: "B2" } },
});
const ownPayload = payload({
  id: "own",
  componentId: node.id,
  userData: `#cloud-config
# this node has a local scratch disk
fs_setup:
  - label: scratch
    filesystem: xfs
    device: /dev/nvme0n1
mounts:
  - [LABEL=scratch, /scratch, xfs, "defaults,nofail", "0", "2"]
runcmd:
  - [systemctl, restart, slurmd]
`,
  metaData: { "local-hostname": "cn0001" },
});
const all = [ownPayload, rackGroup, computeRole, gpuGroup];

describe("golden: a GPU compute node in rack x1000", () => {
  const layers = layersOf(node, all);

  it("user-data: role, gpu, rack-x1000, own — merged", () => {
    const doc = renderDocument("user-data", node, layers);
    expect(doc.contentType).toBe("text/cloud-config; charset=utf-8");
    expect(doc.body).toBe(`#cloud-config
package_update: true
packages:
  - chrony
  - munge
  - slurm-client
  - nvidia-driver
  - cuda-toolkit
ntp:
  enabled: true
  servers:
    - 10.0.0.2
    - 10.0.0.3
    - 10.1.0.2
timezone: Europe/Zurich
users:
  - name: ops
    groups:
      - wheel
    sudo: ALL=(ALL) NOPASSWD:ALL
    ssh_authorized_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGw3rSgNnSBpJtU3Pz0R ops@site
runcmd:
  - [systemctl, enable, --now, munge]
  - [systemctl, restart, slurmd]
  - [systemctl, enable, --now, nvidia-persistenced]
write_files:
  - path: /etc/modprobe.d/nouveau.conf
    content: |
      blacklist nouveau
    permissions: "0644"
fs_setup:
  - label: scratch
    filesystem: xfs
    device: /dev/nvme0n1
mounts:
  - [LABEL=scratch, /scratch, xfs, "defaults,nofail", "0", "2"]
`);
  });

  it("vendor-data: the role's only, as stored", () => {
    expect(renderDocument("vendor-data", node, layers).body).toBe(
      "#cloud-config\nchpasswd:\n  expire: false\n",
    );
  });

  it("meta-data: JSON, keys sorted, facts under chamicore", () => {
    const doc = renderDocument("meta-data", node, layers);
    expect(doc.contentType).toBe("application/json");
    expect(doc.body).toBe(`{
  "chamicore": {
    "addresses": [
      {
        "ipAddress": "10.1.0.17",
        "macAddress": "a4:bf:01:38:ee:65",
        "network": "mgmt"
      },
      {
        "ipAddress": "10.2.0.17",
        "macAddress": "a4:bf:01:38:ee:65",
        "network": "hsn"
      }
    ],
    "groups": [
      "gpu",
      "rack-x1000"
    ],
    "id": "x1000c0s0b0n0",
    "macAddresses": [
      "a4:bf:01:38:ee:65"
    ],
    "nid": 1,
    "role": "Compute"
  },
  "instance-id": "iid-x1000c0s0b0n0",
  "local-hostname": "cn0001",
  "rack": "x1000",
  "site": {
    "building": "B2",
    "name": "zrh"
  }
}
`);
  });

  it("gives the same bytes whatever order the store hands the payloads in", () => {
    const reversed = layersOf(node, [...all].reverse());
    for (const name of ["user-data", "meta-data", "vendor-data"] as const)
      expect(renderDocument(name, node, reversed)).toEqual(renderDocument(name, node, layers));
  });
});

describe("golden: a service node whose own payload is a script", () => {
  const login: NodeFacts = {
    id: "login01",
    nid: null,
    role: "Service",
    groups: ["rack-x1000"],
    interfaces: [],
  };
  const script = "#!/bin/bash\nset -euo pipefail\ncurl -fsS http://10.0.0.5/bootstrap.sh | bash\n";
  const layers = layersOf(login, [
    rackGroup,
    payload({ id: "svc", role: "Service", userData: "#cloud-config\npackages: [nginx]\n" }),
    payload({ id: "login01", componentId: "login01", userData: script }),
  ]);

  it("user-data is the script alone, as text/plain", () => {
    expect(renderDocument("user-data", login, layers)).toEqual({
      body: script,
      contentType: "text/plain; charset=utf-8",
    });
  });

  it("vendor-data with nothing configured is an empty #cloud-config mapping", () => {
    expect(renderDocument("vendor-data", login, layers)).toEqual({
      body: "#cloud-config\n{}\n",
      contentType: "text/cloud-config; charset=utf-8",
    });
  });

  it("meta-data still carries the group's metaData and the facts", () => {
    expect(JSON.parse(renderDocument("meta-data", login, layers).body)).toEqual({
      chamicore: {
        id: "login01",
        nid: null,
        role: "Service",
        groups: ["rack-x1000"],
        addresses: [],
        macAddresses: [],
      },
      "instance-id": "iid-login01",
      "local-hostname": "login01",
      rack: "x1000",
      site: { building: "B2" },
    });
  });
});

describe("golden: a node with no payloads at all", () => {
  const bare: NodeFacts = { id: "nid000042", nid: 42, role: null, groups: [], interfaces: [] };

  it("user-data is an empty #cloud-config mapping, so cloud-init has nothing to fail on", () => {
    expect(renderDocument("user-data", bare, []).body).toBe("#cloud-config\n{}\n");
  });

  it("meta-data holds the defaults and the facts", () => {
    expect(renderDocument("meta-data", bare, []).body).toBe(
      `${JSON.stringify(
        {
          chamicore: { addresses: [], groups: [], id: "nid000042", macAddresses: [], nid: 42, role: null },
          "instance-id": "iid-nid000042",
          "local-hostname": "nid000042",
        },
        null,
        2,
      )}\n`,
    );
  });
});
