import { transportSuite } from "./helpers/transport-suite.ts";
import { stdioClient } from "./helpers/clients.ts";

transportSuite("stdio-standalone", async (pluginsDir, home) => {
  const clients: { close(): Promise<void> }[] = [];
  return {
    connect: async () => {
      const c = await stdioClient(["--standalone", "--plugins", pluginsDir], { PATCHBAY_HOME: home });
      clients.push(c);
      return c;
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    },
  };
});
