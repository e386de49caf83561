/**
 * The one URI-template matcher. The host picks the template that serves a resources/read
 * (registry.ts, profiles.ts) and the plugin's thread then takes the variables out of the
 * same URI (thread/resource-read.ts); both must decide alike, or a read the host routed
 * would reach its plugin with no variables. So both sides use this module and nothing else
 * (test/uri-template.test.ts).
 *
 * It is the MCP TypeScript SDK v1's `UriTemplate`, whose module stands alone (4.5 kB, no
 * imports). SDK v2 has the same class, line for line at 2.4.0, but exports it only from
 * @modelcontextprotocol/server's main entry: in a plugin thread that is 430 kB more to parse
 * and zod loaded up front, about 110 ms more per thread start here. The test holds this
 * matcher to v2's answers, so an SDK upgrade that changes either one fails there.
 */
import { UriTemplate } from "@modelcontextprotocol/sdk/shared/uriTemplate.js";

export { UriTemplate };

/** The variables `uri` gives `template`, or null when it does not match (a URI over the SDK's 1,000,000-character limit matches nothing). */
export function matchUriTemplate(template: UriTemplate, uri: string): Record<string, string | string[]> | null {
  try {
    return template.match(uri);
  } catch {
    return null;
  }
}
