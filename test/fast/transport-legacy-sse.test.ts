import { transportSuite } from "../helpers/transport-suite.ts";
import { startInProcessDaemon } from "../helpers/in-process.ts";
import { sseClient } from "../helpers/clients.ts";

transportSuite("legacy-sse", async (pluginsDir, home) => {
  const d = await startInProcessDaemon({ plugins: pluginsDir, home });
  return { connect: () => sseClient(d.url), close: async () => void (await d.stop()) };
});
