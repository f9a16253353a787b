import { Command, HEADER_SIZE, type Header, REGION_INFO_SIZE } from "../protocol/index.js";
import type { Frame } from "../transport/index.js";

/**
 * Tolerates what real clients send beyond the strict layout, so they work unchanged.
 *
 * libvfio-user's client sends GET_REGION_INFO with its whole argsz-sized buffer as
 * the body (the fixed 32 bytes plus room for the capabilities it expects back);
 * libvfio-user's server only requires at least 32 bytes. Only the fixed part means
 * anything, so the rest is dropped before decoding.
 */
export function normalizeRequest(frame: Frame): { header: Header; body: Uint8Array } {
  const { header, body } = frame;
  if (
    header.command === Command.VFIO_USER_DEVICE_GET_REGION_INFO &&
    body.byteLength > REGION_INFO_SIZE
  ) {
    return {
      header: { ...header, size: HEADER_SIZE + REGION_INFO_SIZE },
      body: body.subarray(0, REGION_INFO_SIZE),
    };
  }
  return { header, body };
}
