/**
 * The part of Kea's configuration a site needs for two-stage network boot,
 * generated (`chamicore edge kea-config`) so that nobody types Kea
 * expressions by hand:
 *
 * 1. Plain PXE firmware gets an iPXE binary by client architecture (DHCP
 *    option 93): BIOS `undionly.kpxe`, x86-64 UEFI `ipxe.efi`, ARM64 UEFI
 *    `ipxe-arm64.efi`, over TFTP from `next-server` (the edge's own TFTP by
 *    default: edgeTftpAddress); UEFI HTTP boot clients (93 = 16, 19) get the
 *    binary's URL when an HTTP location is given (the edge's
 *    `/boot/v1/ipxe/` by default: edgeIpxeBase).
 * 2. iPXE itself (user class, option 77, "iPXE") gets option 67 pointing at
 *    the edge's boot script for its own MAC. The URL depends on the client,
 *    which a client class cannot express in Kea 2.2, so the flex_option
 *    hook (shipped with Kea) computes it from `pkt4.mac`. An empty result
 *    adds nothing, so only iPXE clients get option 67.
 *
 * The reservations themselves stay free of boot details: Chamicore owns
 * only their address, MAC, host name and mark.
 */

export interface SiteConfigOptions {
  /** The edge's base URL as booting nodes reach it (CHAMICORE_EDGE_PUBLIC_URL). */
  edgeUrl: string;
  /** TFTP server for the iPXE binaries (BOOTP next-server); omitted: the subnet's own. */
  tftpServer?: string;
  /** Base URL of the iPXE binaries for UEFI HTTP boot; omitted: no HTTP boot classes. */
  httpBase?: string;
  files?: { bios?: string; efi64?: string; arm64?: string };
  /** Where Kea's hook libraries are (Debian: /usr/lib/x86_64-linux-gnu/kea/hooks). */
  hooksDir?: string;
}

/** A dotted-quad IPv4 address. */
export const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * The edge's address for BOOTP next-server (an IPv4 address, nothing else
 * fits the field): the host of its TFTP listen address (`tftpListen`,
 * CHAMICORE_EDGE_TFTP_LISTEN) when that is one address, otherwise the
 * host of its URL; undefined when neither is an IPv4 address.
 */
export function edgeTftpAddress(edgeUrl: string, tftpListen?: string): string | undefined {
  const listenHost = tftpListen?.slice(0, tftpListen.lastIndexOf(":"));
  if (listenHost && IPV4.test(listenHost) && listenHost !== "0.0.0.0") return listenHost;
  const host = new URL(edgeUrl).hostname;
  return IPV4.test(host) ? host : undefined;
}

/** Where the edge serves the iPXE binaries over HTTP. */
export const edgeIpxeBase = (edgeUrl: string) => `${edgeUrl.replace(/\/+$/, "")}/boot/v1/ipxe`;

export const DEFAULT_HOOKS_DIR = "/usr/lib/x86_64-linux-gnu/kea/hooks";
export const IPXE_CLASS = "chamicore-ipxe";

/** A string literal in Kea's expression language (single quotes, no escapes: refuse what would need one). */
function literal(s: string, what: string): string {
  if (/['\\\n]/.test(s)) throw new Error(`${what} must not contain quotes, backslashes or newlines: ${s}`);
  return `'${s}'`;
}

const arch = (codes: number[]) =>
  `(${codes.map((c) => `option[93].hex == 0x${c.toString(16).padStart(4, "0")}`).join(" or ")})`;

export function keaSiteConfig(o: SiteConfigOptions) {
  const edge = o.edgeUrl.replace(/\/+$/, "");
  const url = new URL(edge);
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new Error(`the edge URL must be http(s): ${edge}`);
  const files = {
    bios: o.files?.bios ?? "undionly.kpxe",
    efi64: o.files?.efi64 ?? "ipxe.efi",
    arm64: o.files?.arm64 ?? "ipxe-arm64.efi",
  };
  const notIpxe = `not member('${IPXE_CLASS}')`;
  const tftp = (name: string, codes: number[], file: string) => ({
    name,
    test: `${notIpxe} and ${arch(codes)}`,
    "boot-file-name": file,
    ...(o.tftpServer ? { "next-server": o.tftpServer } : {}),
  });
  const http = (name: string, codes: number[], file: string) => ({
    name,
    test: `${notIpxe} and ${arch(codes)}`,
    "boot-file-name": `${o.httpBase!.replace(/\/+$/, "")}/${file}`,
    // UEFI HTTP boot only takes an offer that says it is for an HTTP client.
    "option-data": [{ name: "vendor-class-identifier", data: "HTTPClient" }],
  });
  return {
    Dhcp4: {
      "hooks-libraries": [
        {
          library: `${(o.hooksDir ?? DEFAULT_HOOKS_DIR).replace(/\/+$/, "")}/libdhcp_flex_option.so`,
          parameters: {
            options: [
              {
                code: 67,
                supersede: `ifelse(member('${IPXE_CLASS}'), concat(${literal(`${edge}/boot/v1/bootscript?mac=`, "the edge URL")}, hexstring(pkt4.mac, ':')), '')`,
              },
            ],
          },
        },
      ],
      "client-classes": [
        { name: IPXE_CLASS, test: "substring(option[77].hex,0,4) == 'iPXE'" },
        tftp("chamicore-pxe-bios", [0], files.bios),
        tftp("chamicore-pxe-efi64", [7, 9], files.efi64),
        tftp("chamicore-pxe-arm64", [11], files.arm64),
        ...(o.httpBase
          ? [http("chamicore-http-efi64", [16], files.efi64), http("chamicore-http-arm64", [19], files.arm64)]
          : []),
      ],
    },
  };
}
