/**
 * Keeps a server running until SIGINT/SIGTERM, then closes it cleanly and
 * exits (never resolves). The handlers go in before the start: a supervisor
 * may stop the process as soon as it says it is listening (systemd's restart
 * right after a start), and a signal that found no handler would kill it by
 * default, in the middle of its writes.
 */
export async function untilSignal(start: () => Promise<{ close(): Promise<void> }>): Promise<never> {
  let running: { close(): Promise<void> } | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    stopping = true;
    process.stderr.write(`\n${signal}: shutting down\n`);
    // Signalled during the start: closed below, once the start has finished.
    if (!running) return;
    await running.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
  running = await start();
  if (stopping) {
    await running.close();
    process.exit(0);
  }
  return new Promise<never>(() => {});
}
