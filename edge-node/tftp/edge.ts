/**
 * The iPXE binaries as the edge serves them: the directory from its
 * configuration, opened at start (a wrong CHAMICORE_EDGE_IPXE_DIR stops the
 * start with a message naming it), and the TFTP server when
 * CHAMICORE_EDGE_TFTP_LISTEN turns it on.
 */
import type { Logger } from "../../shared/log";
import type { Registry } from "../../shared/metrics";
import type { EdgeConfig } from "../config";
import { IpxeDir } from "./ipxe-dir";
import { startTftpServer, type TftpServer } from "./server";

/** The configured directory, opened; undefined when there is none (HTTP then answers 404, TFTP is off). */
export async function openIpxeDir(config: EdgeConfig): Promise<IpxeDir | undefined> {
  const dir = config.CHAMICORE_EDGE_IPXE_DIR;
  return dir ? IpxeDir.open(dir, "CHAMICORE_EDGE_IPXE_DIR") : undefined;
}

/** Starts TFTP when configured, and logs where it listens. */
export async function startEdgeTftp(
  config: EdgeConfig,
  dir: IpxeDir | undefined,
  logger: Logger,
  registry: Registry,
): Promise<TftpServer | undefined> {
  const listen = config.CHAMICORE_EDGE_TFTP_LISTEN;
  // The config refuses TFTP without a directory, so `dir` is there when `listen` is.
  if (!listen || !dir) return undefined;
  const log = logger.child({ part: "tftp" });
  const server = await startTftpServer({
    dir,
    host: listen.host,
    port: listen.port,
    logger: log,
    registry,
  }).catch((e: Error) => {
    // EADDRINUSE, or EACCES for port 69 without the low-port drop-in: say which setting.
    throw new Error(`CHAMICORE_EDGE_TFTP_LISTEN=${listen.host}:${listen.port}: ${e.message}`);
  });
  log.info("tftp listening", { address: server.address, port: server.port, dir: dir.dir });
  return server;
}
