import {
  Command,
  encodeRequestMessage,
  VFIO_USER_MAJOR,
  VFIO_USER_MINOR,
} from "../../src/protocol/index.js";
import type { VfioUserServer } from "../../src/server/index.js";
import { socketPair } from "../../src/sys/index.js";
import { readMessages } from "./wire.js";

/** edu's vendor and device id, config space bytes 0-3. */
const EDU_ID = [0x34, 0x12, 0xe8, 0x11];
const CONFIG_REGION = 7;

export function versionRequest(id: number): Uint8Array {
  return encodeRequestMessage(id, Command.VFIO_USER_VERSION, {
    major: VFIO_USER_MAJOR,
    minor: VFIO_USER_MINOR,
    capabilities: {},
  });
}

/**
 * A well-behaved client on a fresh connection: VERSION, then a 4-byte config read of the
 * ids. Throws unless both are answered correctly.
 */
export async function checkLiveness(server: VfioUserServer): Promise<void> {
  const [client, serverEnd] = socketPair();
  server.serve(serverEnd);
  try {
    const read = encodeRequestMessage(2, Command.VFIO_USER_REGION_READ, {
      offset: 0n,
      region: CONFIG_REGION,
      count: 4,
    });
    client.send([versionRequest(1), read]);
    const [version, ids] = await readMessages(client, 2, 1500);
    if (version?.kind !== "reply" || version.command !== Command.VFIO_USER_VERSION) {
      throw new Error(`fresh client: VERSION got ${JSON.stringify(version?.kind)}`);
    }
    if (ids?.kind !== "reply" || ids.command !== Command.VFIO_USER_REGION_READ) {
      throw new Error(`fresh client: config read got ${JSON.stringify(ids?.kind)}`);
    }
    const got = Array.from((ids.body as { data: Uint8Array }).data);
    if (got.join() !== EDU_ID.join()) throw new Error(`fresh client: config ids ${got}`);
  } finally {
    client.close();
  }
}
