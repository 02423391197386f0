/**
 * The one typed client of the control API, for the CLI and the tests (and
 * any other TypeScript caller, in Node or workerd). Paths, parameters,
 * bodies and answers are typed by `api.gen.ts`, which openapi-typescript
 * generates from the OpenAPI document that the routes' zod schemas
 * produce (`npm run gen:client`): no second copy of the types to keep.
 *
 * Calls go through openapi-fetch. `unwrap()` turns its `{data, error}`
 * into data or an `ApiProblem` carrying the RFC 9457 problem.
 */
import createFetchClient, { type Client } from "openapi-fetch";
import type { FieldError, Problem } from "../problem";
import type { components, paths } from "./api.gen";

export type { components, paths };
export type ApiClient = Client<paths>;
export type Schemas = components["schemas"];

/** The API answered with an error (a problem document, or something else with that status). */
export class ApiProblem extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: FieldError[];
  readonly problem: Partial<Problem> | undefined;

  constructor(status: number, body: unknown, statusText = "") {
    const p = isProblem(body) ? body : undefined;
    const oauth = body as { error?: string; error_description?: string } | undefined;
    const title = p?.title ?? oauth?.error ?? (statusText || `HTTP ${status}`);
    const detail = p?.detail ?? oauth?.error_description;
    super(detail ? `${title}: ${detail}` : title);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.errors = p?.errors ?? [];
    this.problem = p;
  }
}

const isProblem = (b: unknown): b is Partial<Problem> =>
  typeof b === "object" && b !== null && typeof (b as Problem).title === "string";

export interface ClientOptions {
  /** The control API's base URL. */
  endpoint: string;
  /** The bearer token for each request (called per request: it may renew). */
  token?: () => Promise<string | undefined> | string | undefined;
  fetch?: (input: Request) => Promise<Response>;
}

export function createClient(o: ClientOptions): ApiClient {
  const client = createFetchClient<paths>({ baseUrl: o.endpoint.replace(/\/+$/, ""), fetch: o.fetch });
  if (o.token) {
    const token = o.token;
    client.use({
      async onRequest({ request }) {
        const t = await token();
        if (t && !request.headers.has("Authorization")) request.headers.set("Authorization", `Bearer ${t}`);
        return request;
      },
    });
  }
  return client;
}

/** The answer's data, or an `ApiProblem` for an error status. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<{ data: T; response: Response }> {
  const { data, error, response } = await call;
  if (!response.ok) throw new ApiProblem(response.status, error, response.statusText);
  return { data: data as T, response };
}
