import { transportSuite } from "./helpers/transport-suite.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { sseClient } from "./helpers/clients.ts";

transportSuite("legacy-sse", async (pluginsDir, home) => {
  const d = await startDaemonProcess({ plugins: pluginsDir, home });
  return { connect: () => sseClient(d.url), close: async () => void (await d.stop()) };
});
