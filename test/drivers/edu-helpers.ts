import { VfioUserClient } from "../../src/client/index.js";
import { EduDriver, type EduDriverOptions } from "../../src/drivers/edu/driver.js";
import { SERVE_EDU_ENTRY } from "../../src/harness/edu-demo.js";
import { ServerProcess } from "../../src/harness/server-process.js";
import type { UnixSocket } from "../../src/sys/index.js";

export { isCode } from "../helpers/errors.js";

export { pattern } from "../helpers/pattern.js";

/** An edu server in its own process, shared by the tests of one file. */
export async function startEduServer(): Promise<{ server: ServerProcess; first: UnixSocket }> {
  const { server, socket } = await ServerProcess.start({ entry: SERVE_EDU_ENTRY });
  return { server, first: socket };
}

/** Connects a client (the first socket when given) and opens the driver on it. */
export async function openDriver(
  server: ServerProcess,
  options: EduDriverOptions = {},
  socket?: UnixSocket,
): Promise<{ client: VfioUserClient; driver: EduDriver; close(): Promise<void> }> {
  const client = await VfioUserClient.fromSocket(socket ?? (await server.connect()), {
    name: "edu",
  });
  try {
    const driver = await EduDriver.open(client.device, options);
    return {
      client,
      driver,
      close: async () => {
        await driver.close();
        await client.close();
      },
    };
  } catch (err) {
    await client.close();
    throw err;
  }
}
