import { type PciDevice, VfioUserServer, type VfioUserServerOptions } from "../server/index.js";
import type { DeviceHandle } from "./device-handle.js";
import { memorySocketPair } from "./memory-socket.js";
import { VfioUserClient, type VfioUserClientOptions } from "./vfio-user-client.js";

/** Options of openLoopback: the client's, and the in-process server's. */
export interface LoopbackOptions extends Omit<VfioUserClientOptions, "twinSocket"> {
  /** Options of the in-process server (limits, logger). */
  server?: VfioUserServerOptions;
}

/**
 * Opens a device built with the device SDK (src/server createDevice) in this process,
 * for fast driver unit tests: the same DeviceHandle API, the same protocol code paths
 * (so limits and splitting behave as over a socket), but the two ends are joined by an
 * in-memory stream pair instead of a kernel socket. Closing the handle stops the
 * in-process server; the device itself stays the caller's (call device.close()).
 */
export async function openLoopback(
  device: PciDevice,
  options: LoopbackOptions = {},
): Promise<DeviceHandle> {
  const [clientEnd, serverEnd] = memorySocketPair();
  const server = new VfioUserServer(device, { ...options.server, twinSocket: false });
  server.serve(serverEnd);
  const client = await VfioUserClient.fromSocket(
    clientEnd,
    { name: `loopback ${device.name}`, ...options, twinSocket: false },
    { kind: "loopback", onClose: () => server.close() },
  );
  return client.device;
}
