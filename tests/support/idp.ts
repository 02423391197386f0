/**
 * An identity provider on loopback for token-exchange tests: its own RSA
 * key pair, and an HTTP server publishing the public half as a JWKS.
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";

export type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

/** An identity provider: a key pair and an HTTP server publishing its public half as a JWKS. */
export interface Idp {
  issuer: string;
  jwksUri: string;
  kid: string;
  privateKey: PrivateKey;
  /** How many times the JWKS has been fetched. */
  jwksFetches: number;
  close(): Promise<void>;
}

export async function startIdp(name: string): Promise<Idp> {
  const { publicKey, privateKey } = await generateKeyPair("RS256");
  const kid = `${name}-key-1`;
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" }] };
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    if (req.method === "GET" && req.url === `/${name}/jwks`) {
      fetches++;
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(jwks));
    } else {
      res.writeHead(404).end();
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    issuer: `http://127.0.0.1:${port}/${name}`,
    jwksUri: `http://127.0.0.1:${port}/${name}/jwks`,
    kid,
    privateKey,
    get jwksFetches() {
      return fetches;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
