/**
 * `chamicore edge kea-config`: prints the Kea settings for two-stage network
 * boot (site-config.ts) as JSON, to merge into kea-dhcp4.conf's `Dhcp4`.
 * The flags are declared here and parsed by the CLI (control/cli). By
 * default the edge serves the whole first stage: PXE firmware gets iPXE
 * from the edge's TFTP (next-server) and UEFI HTTP boot from its
 * `/boot/v1/ipxe/`; the flags point either elsewhere.
 */
import type { Options } from "yargs";
import { edgeIpxeBase, edgeTftpAddress, IPV4, keaSiteConfig } from "./site-config";

export const KEA_CONFIG_OPTIONS = {
  "edge-url": {
    type: "string",
    describe: "the edge as booting nodes reach it (default: CHAMICORE_EDGE_PUBLIC_URL)",
  },
  "tftp-server": {
    type: "string",
    describe:
      "TFTP server holding the iPXE binaries (BOOTP next-server; default: the edge, at the address of CHAMICORE_EDGE_TFTP_LISTEN or of the edge URL)",
  },
  "http-base": {
    type: "string",
    describe: "where the iPXE binaries are over HTTP, for UEFI HTTP boot (default: <edge-url>/boot/v1/ipxe)",
  },
  "hooks-dir": {
    type: "string",
    describe: "Kea's hook libraries (default: /usr/lib/x86_64-linux-gnu/kea/hooks)",
  },
  "bios-file": { type: "string", describe: "default undionly.kpxe" },
  "efi64-file": { type: "string", describe: "default ipxe.efi" },
  "arm64-file": { type: "string", describe: "default ipxe-arm64.efi" },
} as const satisfies Record<string, Options>;

export type KeaConfigFlags = Partial<Record<keyof typeof KEA_CONFIG_OPTIONS, string>>;

/** Prints the settings; returns the exit code (2 with a one-line reason when a flag is wrong). */
export function keaConfigCommand(flags: KeaConfigFlags, env: Record<string, string | undefined>): number {
  const fail = (msg: string) => {
    process.stderr.write(`chamicore: ${msg}\n`);
    return 2;
  };
  const edgeUrl = flags["edge-url"] ?? env.CHAMICORE_EDGE_PUBLIC_URL;
  if (!edgeUrl)
    return fail(
      "say where booting nodes reach the edge: --edge-url http://<edge address>:8081 (or set CHAMICORE_EDGE_PUBLIC_URL)",
    );
  const tftp = flags["tftp-server"];
  if (tftp !== undefined && !IPV4.test(tftp))
    return fail(`--tftp-server must be an IPv4 address, not '${tftp}'`);
  for (const k of ["edge-url", "http-base"] as const)
    if (flags[k] !== undefined && !URL.canParse(flags[k]))
      return fail(`--${k} must be a URL, not '${flags[k]}'`);
  try {
    const tftpServer = tftp ?? edgeTftpAddress(edgeUrl, env.CHAMICORE_EDGE_TFTP_LISTEN);
    if (!tftpServer)
      process.stderr.write(
        "chamicore: note: the edge URL names no IPv4 address, so next-server is left to the subnet's; give the edge's with --tftp-server\n",
      );
    const out = keaSiteConfig({
      edgeUrl,
      tftpServer,
      httpBase: flags["http-base"] ?? edgeIpxeBase(edgeUrl),
      hooksDir: flags["hooks-dir"],
      files: { bios: flags["bios-file"], efi64: flags["efi64-file"], arm64: flags["arm64-file"] },
    });
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  } catch (e) {
    return fail((e as Error).message);
  }
}
