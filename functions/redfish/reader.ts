/**
 * What discovery needs from a BMC: reading its Redfish resources. The
 * edge's HTTP client (client.ts) implements it with authentication and
 * TLS; the tests read the DMTF mockups from files.
 */
export interface RedfishReader {
  /**
   * The JSON resource at `path`: a `/redfish/v1/...` path or an
   * `@odata.id` value. Rejects when the BMC cannot be reached or answers
   * other than 2xx with JSON.
   */
  get<T = unknown>(path: string): Promise<T>;
}
