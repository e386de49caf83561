import { transportSuite } from "./helpers/transport-suite.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient } from "./helpers/clients.ts";

transportSuite("streamable-http", async (pluginsDir, home) => {
  const d = await startDaemonProcess({ plugins: pluginsDir, home });
  return { connect: () => httpClient(d.url), close: async () => void (await d.stop()) };
});
