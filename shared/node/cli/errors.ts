/**
 * Exit codes and the one place errors become text on stderr.
 *
 *   0  done
 *   1  the API refused or failed the request, or could not be reached
 *   2  usage: unknown command or flag, bad argument, unreadable input file
 *   3  authentication: not logged in, token expired and not renewable,
 *      credentials refused (401), or not allowed (403)
 *   4  partial failure: some steps or rows of a composite command or an
 *      import failed (the report says which)
 */
import { ApiProblem } from "../../client";

export const EXIT = { ok: 0, failed: 1, usage: 2, auth: 3, partial: 4 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports as is, with its exit code. */
export class CliError extends Error {
  constructor(
    readonly code: ExitCode,
    message: string,
  ) {
    super(message);
  }
}

/** The lines to print for an error, and the exit code. */
export function describeError(e: unknown): { code: ExitCode; text: string } {
  if (e instanceof CliError) return { code: e.code, text: `Error: ${e.message}` };
  if (e instanceof ApiProblem) {
    const lines = [`Error: HTTP ${e.status} ${e.title}${e.detail ? `: ${e.detail}` : ""}`];
    for (const f of e.errors) lines.push(`  ${f.field}: ${f.message}`);
    if (e.status === 401) lines.push("  (log in again: chamicore auth login)");
    if (e.problem?.requestId) lines.push(`  request id: ${e.problem.requestId}`);
    return { code: e.status === 401 || e.status === 403 ? EXIT.auth : EXIT.failed, text: lines.join("\n") };
  }
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === "TypeError" && err.message === "fetch failed")
    return {
      code: EXIT.failed,
      text: `Error: cannot reach the control API: ${err.cause?.code ?? err.cause?.message ?? "connection failed"}`,
    };
  return { code: EXIT.failed, text: `Error: ${err?.message ?? String(e)}` };
}
