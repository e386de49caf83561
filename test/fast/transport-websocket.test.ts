import { transportSuite } from "../helpers/transport-suite.ts";
import { startInProcessDaemon } from "../helpers/in-process.ts";
import { wsClient } from "../helpers/clients.ts";

transportSuite("websocket", async (pluginsDir, home) => {
  const d = await startInProcessDaemon({ plugins: pluginsDir, home });
  return { connect: () => wsClient(d.url), close: async () => void (await d.stop()) };
});
