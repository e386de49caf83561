/**
 * From the command line's CLIENT and `--scope` to one row of the client table and one file:
 * an unknown client or scope is a usage error (exit 2) that lists what is known, so the
 * user sees the choices instead of a guess. Paths come from this process's environment and
 * working directory (see client-table.ts for why never from the real home directly).
 */
import { UsageError } from "../errors.ts";
import { findClient, knownClients, scopeOf, type ClientScope, type ClientSpec } from "./client-table.ts";

export interface ResolvedClient {
  client: ClientSpec;
  scope: string;
  location: ClientScope;
  file: string;
}

export function clientList(): string {
  return knownClients()
    .map((c) => c.id)
    .join(", ");
}

export function resolveClientFile(id: string | undefined, askedScope: string | undefined, verb: "connect" | "import"): ResolvedClient {
  if (id === undefined) throw new UsageError(`${verb} needs a CLIENT: one of ${clientList()}`);
  const client = findClient(id);
  if (!client) throw new UsageError(`unknown client "${id}"; known clients: ${clientList()}`);
  const scope = scopeOf(client, askedScope);
  if (scope === undefined) throw new UsageError(`--scope: ${client.name} has no scope "${askedScope}"; its scopes: ${Object.keys(client.scopes).join(", ")}`);
  const location = client.scopes[scope];
  return { client, scope, location, file: location.file({ platform: process.platform, env: process.env, cwd: process.cwd() }) };
}
