/**
 * A real OpenID Connect provider on loopback for the web UI's login tests:
 * panva's oidc-provider (OpenID Certified), with its development login and
 * consent pages. Any login name is accepted with any password; the user's
 * `groups` claim comes from `users` (unknown users have none). Its client
 * for Chamicore is confidential and must use PKCE.
 *
 * Redirect URIs are only known once the targets run (their ports), so
 * `allowRedirect` rebuilds the provider with one more; its keys and the
 * server stay the same.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";

export interface OidcProvider {
  issuer: string;
  jwksUri: string;
  clientId: string;
  clientSecret: string;
  /**
   * This provider as CHAMICORE_TRUSTED_ISSUERS names it: offered on the
   * login page as "Corp SSO" (subjects `corp:<login>`), its group
   * hpc-users mapped to viewer.
   */
  trustedIssuer(): Record<string, unknown>;
  /** Accept `uri` as a redirect URI of the client from now on. */
  allowRedirect(uri: string): void;
  close(): Promise<void>;
}

export async function startOidcProvider(users: Record<string, { groups: string[]; name?: string }>) {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwks = { keys: [{ ...(await exportJWK(privateKey)), kid: "test-op-1", alg: "RS256", use: "sig" }] };
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => (handle ? handle(req, res) : res.writeHead(503).end()));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = "chamicore-ui";
  const clientSecret = "op-client-secret-for-tests-only";
  const redirects: string[] = [];

  const build = () => {
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: redirects,
          grant_types: ["authorization_code"],
          response_types: ["code"],
        },
      ],
      jwks,
      cookies: { keys: ["op-cookie-key-for-tests-only"] },
      pkce: { required: () => true },
      claims: { openid: ["sub"], profile: ["name"], groups: ["groups"] },
      // The groups go in the ID token (the token the control plane maps), not only to userinfo.
      conformIdTokenClaims: false,
      findAccount: (_ctx, id) => ({
        accountId: id,
        claims: () => ({ sub: id, name: users[id]?.name ?? id, groups: users[id]?.groups ?? [] }),
      }),
    });
    handle = provider.callback();
  };

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    clientId,
    clientSecret,
    trustedIssuer: () => ({
      issuer,
      jwksUri: `${issuer}/jwks`,
      audience: "chamicore",
      roleMap: { "hpc-users": ["viewer"] },
      subjectPrefix: "corp:",
      login: { clientId, clientSecret, name: "Corp SSO", scope: "openid profile groups" },
    }),
    allowRedirect(uri: string) {
      redirects.push(uri);
      build();
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  } satisfies OidcProvider;
}
