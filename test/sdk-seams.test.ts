/**
 * The SDK seams (daemon/mcp/sdk-seams.ts) still hold on the installed SDK: each private
 * member Patchbay calls or overrides exists with the arity it was read with, each overwrite
 * still takes, and the error text Patchbay reads is still the SDK's. Most seams fall back
 * to the SDK's public path when missing, so an upgrade that moves one would pass every
 * behaviour test and only lose speed (or a nicer error): this file is what says so, by
 * the seam's name.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { McpServer, Server, type JSONRPCMessage, type Transport } from "@modelcontextprotocol/server";
import { INVALID_TOOL_RESULT, SDK_SEAMS_CHECKED_AGAINST, sdkInvalidToolResultReason, sdkRequestEntry, onUnconnectedClose, ServerShell } from "../daemon/mcp/sdk-seams.ts";

const newServer = () => new Server({ name: "t", version: "1" }, { capabilities: { tools: {} } });

/** A private member's function, asserted by name (`seam`) to exist with its arity. */
function member(owner: object, name: string, arity: number, seam: string): (...args: unknown[]) => unknown {
  const fn = (owner as Record<string, unknown>)[name];
  assert.equal(typeof fn, "function", `SDK seam moved: ${seam} is gone (see daemon/mcp/sdk-seams.ts)`);
  assert.equal((fn as (...a: unknown[]) => unknown).length, arity, `SDK seam moved: ${seam} now takes ${(fn as (...a: unknown[]) => unknown).length} parameters, not ${arity} (see daemon/mcp/sdk-seams.ts)`);
  return fn as (...args: unknown[]) => unknown;
}

test("the installed SDK is the release the seams were checked against, and package.json pins it exactly", () => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { devDependencies: Record<string, string> };
  for (const [name, version] of Object.entries(SDK_SEAMS_CHECKED_AGAINST)) {
    const installed = (JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), "utf8")) as { version: string }).version;
    assert.equal(installed, version, `${name} ${installed} is installed, but the SDK seams were checked against ${version}: re-check every seam in daemon/mcp/sdk-seams.ts against it, then update SDK_SEAMS_CHECKED_AGAINST and the pin`);
    assert.equal(pkg.devDependencies[name], version, `package.json must pin ${name} to exactly ${version} (its internals are used: daemon/mcp/sdk-seams.ts)`);
  }
});

test("seam Protocol._onrequest: exists with arity 2 and dispatches a request to its handler", async () => {
  member(newServer(), "_onrequest", 2, "Protocol._onrequest (request entry)");
  const server = newServer();
  const sent: JSONRPCMessage[] = [];
  const transport: Transport = { start: async () => undefined, close: async () => undefined, send: async (m) => void sent.push(m) };
  await server.connect(transport);
  const entry = sdkRequestEntry(server);
  assert.ok(entry, "SDK seam moved: Protocol._onrequest is gone");
  entry.call(server, { jsonrpc: "2.0", id: 7, method: "ping" } as JSONRPCMessage);
  for (let i = 0; i < 50 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(sent, [{ jsonrpc: "2.0", id: 7, result: {} }], "SDK seam moved: Protocol._onrequest no longer answers the request it is given");
  await server.close();
});

test("seam Server._wrapHandler: a protected method of arity 2 that Server defines itself", () => {
  assert.ok(Object.hasOwn(Server.prototype, "_wrapHandler"), "SDK seam moved: Server no longer defines _wrapHandler (the override in SeamedServer would wrap nothing Server-specific)");
  member(Server.prototype, "_wrapHandler", 2, "Server._wrapHandler (handler wrapper override)");
});

test("seam Server._invokeInputRequiredCapableHandler: exists with arity 4 and runs the handler it is given", async () => {
  const server = newServer();
  const seam = member(server, "_invokeInputRequiredCapableHandler", 4, "Server._invokeInputRequiredCapableHandler (tools/call multi-round-trip seam)");
  const ctx = { mcpReq: { id: 1, method: "tools/call", requestState: () => undefined } };
  const result = await seam.call(server, "tools/call", async () => ({ content: [] }), { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "x" } }, ctx);
  assert.deepEqual(result, { content: [] }, "SDK seam moved: _invokeInputRequiredCapableHandler no longer returns its handler's plain result");
});

test("seam: the SDK's error text for an invalid tools/call result", async () => {
  const wrap = member(newServer(), "_wrapHandler", 2, "Server._wrapHandler").bind(newServer()) as (m: string, h: () => Promise<unknown>) => (r: unknown, c: unknown) => Promise<unknown>;
  const ctx = { mcpReq: { id: 1, method: "tools/call", requestState: () => undefined } };
  const err = await wrap("tools/call", async () => ({ content: 5 }))({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "x" } }, ctx).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error, "SDK seam moved: the SDK no longer refuses an invalid tools/call result");
  assert.ok(err.message.startsWith(INVALID_TOOL_RESULT), `SDK seam moved: the invalid tools/call result error no longer starts "${INVALID_TOOL_RESULT}": ${err.message.slice(0, 200)}`);
  assert.equal(sdkInvalidToolResultReason(err), "content: Invalid input: expected array, received number", "SDK seam moved: the invalid tools/call result error no longer carries zod's issue list as JSON");
});

test("seam McpServer.server: an own writable field, and the shell's overwrite takes", () => {
  const d = Object.getOwnPropertyDescriptor(new McpServer({ name: "t", version: "1" }), "server");
  assert.ok(d && "value" in d && d.writable, "SDK seam moved: McpServer.server is no longer an own writable field (ServerShell cannot replace it)");
  const inner = newServer();
  assert.equal(new ServerShell(inner, () => undefined).server, inner, "SDK seam moved: overwriting McpServer.server no longer takes");
});

test("seam McpServer.toolInputSchemaJson: an (internal) method of arity 1 the shell overrides", () => {
  member(McpServer.prototype, "toolInputSchemaJson", 1, "McpServer.toolInputSchemaJson (Mcp-Param-* schema lookup)");
  const schema = { type: "object" };
  assert.equal(new ServerShell(newServer(), () => schema).toolInputSchemaJson("x"), schema);
});

test("seam close(): closing a never-connected instance does not fire onclose, so the wrap is what releases it", async () => {
  const plain = newServer();
  let fired = false;
  plain.onclose = () => (fired = true);
  await plain.close();
  assert.equal(plain.transport, undefined, "SDK seam moved: an unconnected Server's transport is no longer undefined");
  assert.equal(fired, false, "SDK seam changed: closing an unconnected Server now fires onclose (onUnconnectedClose would release twice)");
  const wrapped = newServer();
  let released = 0;
  onUnconnectedClose(wrapped, () => released++);
  await wrapped.close();
  assert.equal(released, 1);
});
