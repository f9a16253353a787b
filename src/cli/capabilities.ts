/**
 * `vfio-ts serve <device> --print-capabilities`: what a management stack (libvirt and the
 * like) needs to know before it starts us as a vfio-user backend, as vhost-user backends
 * print theirs: the device, the protocol, and the backend options we accept.
 */
import { hex } from "../hex.js";
import { VFIO_USER_MAJOR, VFIO_USER_MINOR } from "../protocol/index.js";
import type { PciDevice } from "../server/index.js";

export interface BackendCapabilities {
  readonly type: "vfio-user";
  readonly protocol: { readonly major: number; readonly minor: number };
  readonly device: {
    readonly name: string;
    readonly vendorId: string;
    readonly deviceId: string;
    readonly subsystemVendorId: string;
    readonly subsystemId: string;
    readonly classCode: string;
    readonly bars: readonly { readonly index: number; readonly size: number }[];
  };
  /** Backend-program options, spelled as the spec's conventions spell them. */
  readonly options: readonly { readonly name: string; readonly description: string }[];
}

/** The JSON printed by --print-capabilities, for `device` as `serve` would serve it. */
export function backendCapabilities(device: PciDevice): BackendCapabilities {
  const cfg = (offset: number, size: 1 | 2 | 4) => Number(device.config.read(offset, size));
  const bars: { index: number; size: number }[] = [];
  for (let index = 0; index < 6; index++) {
    try {
      bars.push({ index, size: device.bar(index).size });
    } catch {
      // not implemented: not listed
    }
  }
  return {
    type: "vfio-user",
    protocol: { major: VFIO_USER_MAJOR, minor: VFIO_USER_MINOR },
    device: {
      name: device.name,
      vendorId: hex(cfg(0x00, 2), 4),
      deviceId: hex(cfg(0x02, 2), 4),
      subsystemVendorId: hex(cfg(0x2c, 2), 4),
      subsystemId: hex(cfg(0x2e, 2), 4),
      classCode: hex(cfg(0x08, 4) >>> 8, 6),
      bars,
    },
    options: [
      { name: "--socket-path=PATH", description: "listen on a new UNIX socket at PATH" },
      {
        name: "--fd=FDNUM",
        description: "serve on an inherited UNIX socket, listening or already connected",
      },
      { name: "--print-capabilities", description: "print this JSON and exit" },
      { name: "--dma-layout=spec|qemu", description: "DMA_READ/DMA_WRITE count layout" },
      { name: "--dma-fds=map|sealed", description: "which DMA fds to mmap" },
      { name: "--verbose", description: "log every access" },
    ],
  };
}
