/**
 * Byte amounts as operators write them in the edge's environment: `20G`,
 * `50M`, `1048576`. Suffixes are powers of 1024 (K, M, G, T), with an
 * optional `i` and `B` (`20GiB`, `50MB` mean the same), so a budget written
 * like `df -h` shows sizes means what it says.
 */
import { z } from "zod";

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
const AMOUNT = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i;

/** Bytes in `s`, or undefined when it is not an amount. */
export function parseBytes(s: string): number | undefined {
  const m = AMOUNT.exec(s.trim());
  if (!m) return undefined;
  const n = Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** An environment variable holding a byte amount (at least `min`), parsed to a number of bytes. */
export const ByteAmount = (min = 1) =>
  z.string().transform((s, ctx) => {
    const n = parseBytes(s);
    if (n === undefined || n < min) {
      ctx.addIssue({
        code: "custom",
        message: `a number of bytes of at least ${min}, optionally with K, M, G or T (powers of 1024), e.g. 50M`,
      });
      return z.NEVER;
    }
    return n;
  });
