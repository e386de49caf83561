import { transportSuite } from "./helpers/transport-suite.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { stdioClient } from "./helpers/clients.ts";

transportSuite("stdio-attached", async (pluginsDir, home) => {
  const d = await startDaemonProcess({ plugins: pluginsDir, home });
  const clients: { close(): Promise<void> }[] = [];
  return {
    connect: async () => {
      const c = await stdioClient([], { PATCHBAY_HOME: home });
      clients.push(c);
      return c;
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await d.stop();
    },
  };
});
