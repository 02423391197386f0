/**
 * `chamicore edge kea-config`: prints the Kea settings for two-stage network
 * boot (site-config.ts) as JSON, to merge into kea-dhcp4.conf's `Dhcp4`.
 */
import { parseArgs } from "node:util";
import { keaSiteConfig } from "./site-config";

const USAGE = `Usage: chamicore edge kea-config [options]

Prints the client classes and the flex_option hook that send PXE firmware an
iPXE binary and iPXE the edge's boot script, as JSON to merge into the Dhcp4
section of kea-dhcp4.conf. See docs/dhcp.md.

  --edge-url URL      the edge as booting nodes reach it (default: CHAMICORE_EDGE_PUBLIC_URL)
  --tftp-server IP    TFTP server holding the iPXE binaries (BOOTP next-server)
  --http-base URL     where the iPXE binaries are over HTTP, for UEFI HTTP boot
  --hooks-dir DIR     Kea's hook libraries (default: /usr/lib/x86_64-linux-gnu/kea/hooks)
  --bios-file NAME    default undionly.kpxe
  --efi64-file NAME   default ipxe.efi
  --arm64-file NAME   default ipxe-arm64.efi
`;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function keaConfigCommand(argv: string[], env: Record<string, string | undefined>): number {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        "edge-url": { type: "string" },
        "tftp-server": { type: "string" },
        "http-base": { type: "string" },
        "hooks-dir": { type: "string" },
        "bios-file": { type: "string" },
        "efi64-file": { type: "string" },
        "arm64-file": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    process.stderr.write(`chamicore: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const str = (k: string) => values[k] as string | undefined;
  const edgeUrl = str("edge-url") ?? env.CHAMICORE_EDGE_PUBLIC_URL;
  const fail = (msg: string) => {
    process.stderr.write(`chamicore: ${msg}\n`);
    return 2;
  };
  if (!edgeUrl)
    return fail(
      "say where booting nodes reach the edge: --edge-url http://<edge address>:8081 (or set CHAMICORE_EDGE_PUBLIC_URL)",
    );
  const tftp = str("tftp-server");
  if (tftp !== undefined && !IPV4.test(tftp))
    return fail(`--tftp-server must be an IPv4 address, not '${tftp}'`);
  for (const k of ["edge-url", "http-base"])
    if (str(k) !== undefined && !URL.canParse(str(k)!)) return fail(`--${k} must be a URL, not '${str(k)}'`);
  try {
    const out = keaSiteConfig({
      edgeUrl,
      tftpServer: tftp,
      httpBase: str("http-base"),
      hooksDir: str("hooks-dir"),
      files: { bios: str("bios-file"), efi64: str("efi64-file"), arm64: str("arm64-file") },
    });
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  } catch (e) {
    return fail((e as Error).message);
  }
}
