/**
 * One HTTP exchange with a BMC over `node:http`/`node:https`, nothing more:
 * no auth, no retries, no JSON. It exists for TLS: BMCs ship self-signed
 * certificates, so verification must be switchable per BMC
 * (`rejectUnauthorized`), which global `fetch` cannot do without a
 * dispatcher from a package this project does not depend on.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface HttpExchange {
  method: string;
  /** Path and query, e.g. `/redfish/v1/Systems`. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Why no HTTP answer came; `retryable` is false when trying again cannot help. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly aborted = false,
  ) {
    super(message);
  }
}

/** Answers bigger than this are cut off as an error: no Redfish document comes close. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** OpenSSL's verdicts on a certificate: a BMC's certificate does not change between retries. */
const CERTIFICATE_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

export interface TlsOptions {
  /** Skip certificate verification for this BMC only. */
  insecure?: boolean;
  /** PEM CA(s) to trust for this BMC instead of the system's. */
  ca?: string;
}

/** Keep-alive connections to one BMC; `close()` drops them. */
export class BmcConnection {
  private readonly agent: HttpAgent;
  private readonly secure: boolean;

  constructor(
    private readonly base: URL,
    tls: TlsOptions = {},
  ) {
    this.secure = base.protocol === "https:";
    if (!this.secure && base.protocol !== "http:")
      throw new Error(`Redfish base URL must be http:// or https://, not ${base.protocol}`);
    // keepAlive: a BMC's TLS handshake is often slower than the request itself.
    this.agent = this.secure
      ? new HttpsAgent({
          keepAlive: true,
          rejectUnauthorized: !tls.insecure,
          ...(tls.ca ? { ca: tls.ca } : {}),
        })
      : new HttpAgent({ keepAlive: true });
  }

  exchange(x: HttpExchange): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      if (x.signal?.aborted) return reject(new TransportError("aborted", false, true));
      const send = this.secure ? httpsRequest : httpRequest;
      const req = send({
        protocol: this.base.protocol,
        hostname: this.base.hostname.replace(/^\[|\]$/g, ""),
        port: this.base.port || (this.secure ? 443 : 80),
        method: x.method,
        path: x.path,
        headers:
          x.body === undefined ? x.headers : { ...x.headers, "Content-Length": Buffer.byteLength(x.body) },
        agent: this.agent,
      });
      let settled = false;
      const fail = (e: TransportError) => {
        if (settled) return;
        settled = true;
        cleanup();
        req.destroy();
        reject(e);
      };
      // One timer for the whole exchange (connect, TLS, answer and body): a
      // BMC that accepts the connection and then never answers is the usual hang.
      const timer = setTimeout(
        () => fail(new TransportError(`timed out after ${x.timeoutMs} ms`, true)),
        x.timeoutMs,
      );
      const onAbort = () => fail(new TransportError("aborted", false, true));
      x.signal?.addEventListener("abort", onAbort, { once: true });
      const cleanup = () => {
        clearTimeout(timer);
        x.signal?.removeEventListener("abort", onAbort);
      };
      req.on("error", (e: NodeJS.ErrnoException) => fail(describe(e)));
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY_BYTES)
            fail(new TransportError(`answer larger than ${MAX_BODY_BYTES} bytes`, false));
          else chunks.push(c);
        });
        res.on("error", (e: NodeJS.ErrnoException) => fail(describe(e)));
        res.on("end", () => {
          if (settled) return;
          settled = true;
          cleanup();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          });
        });
      });
      req.end(x.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function describe(e: NodeJS.ErrnoException): TransportError {
  const code = e.code ?? "";
  if (CERTIFICATE_CODES.has(code))
    return new TransportError(
      `TLS certificate not trusted (${code}: ${e.message}); set insecure for this BMC to skip verification`,
      false,
    );
  return new TransportError(code && !e.message.includes(code) ? `${code}: ${e.message}` : e.message, true);
}
