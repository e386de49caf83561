import { transportSuite } from "../helpers/transport-suite.ts";
import { startInProcessDaemon } from "../helpers/in-process.ts";
import { httpClient } from "../helpers/clients.ts";

transportSuite("streamable-http", async (pluginsDir, home) => {
  const d = await startInProcessDaemon({ plugins: pluginsDir, home });
  return { connect: () => httpClient(d.url), close: async () => void (await d.stop()) };
});
