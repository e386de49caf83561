/**
 * The conformance suites' fixture server, as a Patchbay plugin: every tool, resource, template
 * and prompt that the server scenarios of @modelcontextprotocol/conformance 0.2.0-alpha.12
 * (`--requirements 2026-07-28` and `2025-11-25`) and 0.1.16 call, under the names they use.
 *
 * The plugin is named `test` and test/conformance/patchbay.json sets `namespaceSeparator: "_"`,
 * so the tool `simple_text` is exposed as `test_simple_text`, the prompt `simple_prompt` as
 * `test_simple_prompt`, and so on. Resource URIs are never namespaced. The one fixture whose
 * name does not start with `test_` (`json_schema_2020_12_tool`) is in ../json.ts.
 *
 * Behaviour follows the suite's reference server (examples/servers/typescript/everything-server.ts
 * in modelcontextprotocol/conformance), written once for both protocol eras: a handler that asks
 * the client (`sample`, `elicit`, `roots`) gets a server→client request on a 2025 session and an
 * `input_required` round trip on 2026-07-28; that difference is the daemon's business.
 * The 2026-only tasks-* extension scenarios have no fixtures here (a separate step).
 */
import { definePlugin, z } from "mcp-patchbay";
import { PNG_BASE64, SEP1034_DEFAULTS_SCHEMA, SEP1330_ENUMS_SCHEMA, WAV_BASE64, sampledText, sleep, stringForm } from "./data.ts";
import { toggleTriggeredPlugin } from "./triggers.ts";

const NAME_FORM = stringForm("name");

export default definePlugin({
  name: "test",
  version: "1.0.0",
  description: "Fixtures for the MCP conformance suites",
  // No-argument tools say `input: {}` and no-argument prompts `arguments: []` (leaving the
  // field out would work as well).
  tools: {
    // ── content (tools-call-*) ────────────────────────────────────────────────
    simple_text: {
      description: "Tests simple text content response",
      input: {},
      handler: () => ({ content: [{ type: "text", text: "This is a simple text response for testing." }] }),
    },
    image_content: {
      description: "Tests image content response",
      input: {},
      handler: () => ({ content: [{ type: "image", data: PNG_BASE64, mimeType: "image/png" }] }),
    },
    audio_content: {
      description: "Tests audio content response",
      input: {},
      handler: () => ({ content: [{ type: "audio", data: WAV_BASE64, mimeType: "audio/wav" }] }),
    },
    embedded_resource: {
      description: "Tests embedded resource content response",
      input: {},
      handler: () => ({
        content: [{ type: "resource", resource: { uri: "test://embedded-resource", mimeType: "text/plain", text: "This is an embedded resource content." } }],
      }),
    },
    multiple_content_types: {
      description: "Tests response with multiple content types (text, image, resource)",
      input: {},
      handler: () => ({
        content: [
          { type: "text", text: "Multiple content types test:" },
          { type: "image", data: PNG_BASE64, mimeType: "image/png" },
          { type: "resource", resource: { uri: "test://mixed-content-resource", mimeType: "application/json", text: JSON.stringify({ test: "data", value: 123 }) } },
        ],
      }),
    },
    error_handling: {
      description: "Tests error response handling",
      input: {},
      handler: () => {
        throw new Error("This tool intentionally returns an error for testing");
      },
    },

    // ── notifications during a call ───────────────────────────────────────────
    tool_with_logging: {
      description: "Tests tool that emits log messages during execution",
      input: {},
      handler: async (_args, ctx) => {
        ctx.sendLog("info", "Tool execution started");
        await sleep(50);
        ctx.sendLog("info", "Tool processing data");
        await sleep(50);
        ctx.sendLog("info", "Tool execution completed");
        return "Tool with logging executed successfully";
      },
    },
    tool_with_progress: {
      description: "Tests tool that reports progress notifications",
      input: {},
      handler: async (_args, ctx) => {
        for (const step of [0, 50, 100]) {
          if (step > 0) await sleep(50);
          ctx.progress(step, 100, `Completed step ${step} of 100`);
        }
        return "Progress reported: 0, 50, 100 of 100";
      },
    },
    reconnection: {
      description:
        "Tests SSE polling (SEP-1699): a call that takes a moment, so the transport can close the POST stream mid-call and deliver the result after the client reconnects",
      input: {},
      handler: async () => {
        await sleep(100);
        return "Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.";
      },
    },
    // 2026-07-28: a log is sent only when the request's _meta asks for a level (server-stateless)
    logging_tool: {
      description: "Diagnostic logging validator tool",
      input: {},
      handler: (_args, ctx) => {
        ctx.sendLog("info", "Diagnostic trace logging activated");
        return "Logging evaluated";
      },
    },
    // SEP-2243 custom headers: `region` is mirrored in the Mcp-Param-Region request header
    mcp_param_header: {
      description: "Echoes a parameter that clients also send as the Mcp-Param-Region header (SEP-2243)",
      input: {
        type: "object",
        properties: { region: { type: "string", description: "A region name", "x-mcp-header": "Region" } },
        required: ["region"],
      },
      handler: (args) => `region: ${String(args.region)}`,
    },

    // ── asking the client, 2025 era (server→client requests on the session) ───
    sampling: {
      description: "Tests server-initiated sampling (LLM completion request)",
      input: { prompt: z.string().describe("The prompt to send to the LLM") },
      handler: async ({ prompt }, ctx) => {
        const result = await ctx.sample({ messages: [{ role: "user", content: { type: "text", text: prompt } }], maxTokens: 100 });
        return `LLM response: ${sampledText(result)}`;
      },
    },
    elicitation: {
      description: "Tests server-initiated elicitation (user input request)",
      input: { message: z.string().describe("The message to show the user") },
      handler: async ({ message }, ctx) => {
        const result = await ctx.elicit({
          message,
          requestedSchema: { type: "object", properties: { response: { type: "string", description: "User's response" } }, required: ["response"] },
        });
        return `User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`;
      },
    },
    elicitation_sep1034_defaults: {
      description: "Tests elicitation with default values per SEP-1034",
      input: {},
      handler: async (_args, ctx) => {
        const result = await ctx.elicit({ message: "Please review and update the form fields with defaults", requestedSchema: SEP1034_DEFAULTS_SCHEMA });
        return `Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`;
      },
    },
    elicitation_sep1330_enums: {
      description: "Tests elicitation with enum schema improvements per SEP-1330",
      input: {},
      handler: async (_args, ctx) => {
        const result = await ctx.elicit({ message: "Please select options from the enum fields", requestedSchema: SEP1330_ENUMS_SCHEMA });
        return `Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`;
      },
    },

    // ── asking the client, 2026-07-28 (input_required round trips, SEP-2322) ──
    input_required_result_elicitation: {
      description: "MRTR: asks the user's name by elicitation (input key user_name)",
      input: {},
      handler: async (_args, ctx) => {
        const answer = await ctx.elicit({ message: "What is your name?", requestedSchema: NAME_FORM }, { key: "user_name" });
        return `Hello, ${String(answer.content?.name ?? "unknown")}!`;
      },
    },
    input_required_result_sampling: {
      description: "MRTR: asks the client's model a question by sampling",
      input: {},
      handler: async (_args, ctx) => {
        const answer = await ctx.sample(
          { messages: [{ role: "user", content: { type: "text", text: "What is the capital of France?" } }], maxTokens: 100 },
          { key: "capital_question" },
        );
        return `Sampling result: ${sampledText(answer)}`;
      },
    },
    input_required_result_list_roots: {
      description: "MRTR: asks the client for its roots",
      input: {},
      handler: async (_args, ctx) => {
        const { roots } = await ctx.roots({ key: "client_roots" });
        return `Found ${roots.length} root(s): ${roots.map((r) => r.uri).join(", ")}`;
      },
    },
    input_required_result_request_state: {
      description: "MRTR: asks for a confirmation; completes only on the round that carries the answer and the requestState",
      input: {},
      handler: async (_args, ctx) => {
        const answer = await ctx.elicit(
          { message: "Please confirm", requestedSchema: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] } },
          { key: "confirm" },
        );
        return answer.action === "accept" && answer.content?.ok === true ? "state-ok: requestState validated" : `not confirmed (action=${answer.action})`;
      },
    },
    input_required_result_multiple_inputs: {
      description: "MRTR: asks for elicitation, sampling and roots in one round",
      input: {},
      handler: async (_args, ctx) => {
        const [name, greeting, { roots }] = await Promise.all([
          ctx.elicit({ message: "What is your name?", requestedSchema: NAME_FORM }, { key: "user_name" }),
          ctx.sample({ messages: [{ role: "user", content: { type: "text", text: "Generate a greeting" } }], maxTokens: 50 }, { key: "greeting" }),
          ctx.roots({ key: "client_roots" }),
        ]);
        return `Name: ${String(name.content?.name ?? "unknown")}; Greeting: ${sampledText(greeting)}; Roots: ${roots.length}`;
      },
    },
    input_required_result_multi_round: {
      description: "MRTR: two elicitation rounds, the second asked only after the first is answered",
      input: {},
      handler: async (_args, ctx) => {
        const step1 = await ctx.elicit({ message: "Step 1: What is your name?", requestedSchema: NAME_FORM }, { key: "step1" });
        const step2 = await ctx.elicit({ message: "Step 2: What is your favorite color?", requestedSchema: stringForm("color") }, { key: "step2" });
        return `${String(step1.content?.name ?? "unknown")} likes ${String(step2.content?.color ?? "unknown")}`;
      },
    },
    input_required_result_tampered_state: {
      description: "MRTR: asks for a confirmation; a retry whose requestState was altered must be refused",
      input: {},
      handler: async (_args, ctx) => {
        const answer = await ctx.elicit(
          { message: "Please confirm", requestedSchema: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] } },
          { key: "confirm" },
        );
        return `confirmed: ${answer.action}`;
      },
    },
    // The plugin API does not show the client's capabilities, so this fixture asks only for what
    // the scenario's client declares (sampling); the daemon refuses (-32021) what a client lacks.
    input_required_result_capabilities: {
      description: "MRTR: asks only for sampling, the one capability the scenario's client declares",
      input: {},
      handler: async (_args, ctx) => {
        const answer = await ctx.sample(
          { messages: [{ role: "user", content: { type: "text", text: "Sample request" } }], maxTokens: 50 },
          { key: "sample_input" },
        );
        return `capabilities-ok: ${sampledText(answer)}`;
      },
    },
    // server-stateless probes (2026-07-28)
    missing_capability: {
      description: "Needs sampling: a client that does not declare it gets MissingRequiredClientCapabilityError (-32021)",
      input: {},
      handler: async (_args, ctx) => {
        const answer = await ctx.sample({ messages: [{ role: "user", content: { type: "text", text: "Say hello" } }], maxTokens: 10 });
        return `Success: ${sampledText(answer)}`;
      },
    },
    streaming_elicitation: {
      description: "Diagnostic tool validating response progress streams: asks the user by elicitation",
      input: {},
      handler: async (_args, ctx) => {
        const answer = await ctx.elicit({ message: "Continue?", requestedSchema: stringForm("reply") }, { key: "reply" });
        return `Streaming complete: ${answer.action}`;
      },
    },
    trigger_tool_change: {
      description: "Changes the tool list (adds or removes a tool), so list_changed reaches subscribers",
      input: {},
      handler: () => toggleTriggeredPlugin("tool"),
    },
    trigger_prompt_change: {
      description: "Changes the prompt list (adds or removes a prompt), so list_changed reaches subscribers",
      input: {},
      handler: () => toggleTriggeredPlugin("prompt"),
    },
  },

  resources: {
    "test://static-text": {
      name: "static-text",
      title: "Static Text Resource",
      description: "A static text resource for testing",
      mimeType: "text/plain",
      read: (uri) => ({ contents: [{ uri, mimeType: "text/plain", text: "This is the content of the static text resource." }] }),
    },
    "test://static-binary": {
      name: "static-binary",
      title: "Static Binary Resource",
      description: "A static binary resource (image) for testing",
      mimeType: "image/png",
      read: (uri) => ({ contents: [{ uri, mimeType: "image/png", blob: PNG_BASE64 }] }),
    },
    "test://watched-resource": {
      name: "watched-resource",
      title: "Watched Resource",
      description: "A resource clients subscribe to",
      mimeType: "text/plain",
      read: (uri) => ({ contents: [{ uri, mimeType: "text/plain", text: "Watched resource content" }] }),
    },
  },

  resourceTemplates: {
    "test://template/{id}/data": {
      name: "template",
      title: "Resource Template",
      description: "A resource template with parameter substitution",
      mimeType: "application/json",
      read: (uri, { id }) => ({
        contents: [{ uri, mimeType: "application/json", text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }) }],
      }),
    },
  },

  prompts: {
    simple_prompt: {
      title: "Simple Test Prompt",
      description: "A simple prompt without arguments",
      arguments: [],
      render: () => [{ role: "user", content: { type: "text", text: "This is a simple prompt for testing." } }],
    },
    prompt_with_arguments: {
      title: "Prompt With Arguments",
      description: "A prompt with required arguments",
      arguments: { arg1: z.string().describe("First test argument"), arg2: z.string().describe("Second test argument") },
      render: ({ arg1, arg2 }) => [{ role: "user", content: { type: "text", text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } }],
      complete: {
        arg1: (value) => ["paris", "park", "party", "test"].filter((v) => v.startsWith(value)),
        arg2: (value) => ["red", "green", "blue"].filter((v) => v.startsWith(value)),
      },
    },
    prompt_with_embedded_resource: {
      title: "Prompt With Embedded Resource",
      description: "A prompt that includes an embedded resource",
      arguments: { resourceUri: z.string().describe("URI of the resource to embed") },
      render: ({ resourceUri }) => [
        { role: "user", content: { type: "resource", resource: { uri: resourceUri, mimeType: "text/plain", text: "Embedded resource content for testing." } } },
        { role: "user", content: { type: "text", text: "Please process the embedded resource above." } },
      ],
    },
    prompt_with_image: {
      title: "Prompt With Image",
      description: "A prompt that includes image content",
      arguments: [],
      render: () => [
        { role: "user", content: { type: "image", data: PNG_BASE64, mimeType: "image/png" } },
        { role: "user", content: { type: "text", text: "Please analyze the image above." } },
      ],
    },
    // input_required on a non-tool request (SEP-2322, 2026-07-28)
    input_required_result_prompt: {
      description: "MRTR: a prompt that asks the user for context before it renders",
      arguments: [],
      render: async (_args, ctx) => {
        const answer = await ctx.elicit({ message: "What context should the prompt use?", requestedSchema: stringForm("context") }, { key: "user_context" });
        return [{ role: "user", content: { type: "text", text: `Prompt with context: ${String(answer.content?.context ?? "none")}` } }];
      },
    },
  },
});
