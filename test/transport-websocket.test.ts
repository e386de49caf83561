import { transportSuite } from "./helpers/transport-suite.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { wsClient } from "./helpers/clients.ts";

transportSuite("websocket", async (pluginsDir, home) => {
  const d = await startDaemonProcess({ plugins: pluginsDir, home });
  return { connect: () => wsClient(d.url), close: async () => void (await d.stop()) };
});
