/**
 * Numbers of the vfio-user protocol (spec version 0.9.2) and of the VFIO ABI it reuses.
 * Names follow the spec and linux/vfio.h so they can be grepped against both.
 */

export const VFIO_USER_MAJOR = 0;
export const VFIO_USER_MINOR = 1;

/** Command ids (spec "Commands"). 14 is unused by the spec. */
export const Command = {
  VFIO_USER_VERSION: 1,
  VFIO_USER_DMA_MAP: 2,
  VFIO_USER_DMA_UNMAP: 3,
  VFIO_USER_DEVICE_GET_INFO: 4,
  VFIO_USER_DEVICE_GET_REGION_INFO: 5,
  VFIO_USER_DEVICE_GET_REGION_IO_FDS: 6,
  VFIO_USER_DEVICE_GET_IRQ_INFO: 7,
  VFIO_USER_DEVICE_SET_IRQS: 8,
  VFIO_USER_REGION_READ: 9,
  VFIO_USER_REGION_WRITE: 10,
  VFIO_USER_DMA_READ: 11,
  VFIO_USER_DMA_WRITE: 12,
  VFIO_USER_DEVICE_RESET: 13,
  VFIO_USER_REGION_WRITE_MULTI: 15,
  VFIO_USER_DEVICE_FEATURE: 16,
  VFIO_USER_MIG_DATA_READ: 17,
  VFIO_USER_MIG_DATA_WRITE: 18,
} as const;
export type CommandName = keyof typeof Command;
export type CommandId = (typeof Command)[CommandName];

const commandNames = new Map<number, CommandName>(
  Object.entries(Command).map(([k, v]) => [v, k as CommandName]),
);
export function commandName(cmd: number): string {
  return commandNames.get(cmd) ?? `UNKNOWN(${cmd})`;
}
export function isKnownCommand(cmd: number): cmd is CommandId {
  return commandNames.has(cmd);
}

/** Header layout (spec "Header"). */
export const HEADER_SIZE = 16;
export const VFIO_USER_F_TYPE_MASK = 0xf;
export const VFIO_USER_F_TYPE_COMMAND = 0x0;
export const VFIO_USER_F_TYPE_REPLY = 0x1;
export const VFIO_USER_F_NO_REPLY = 1 << 4;
export const VFIO_USER_F_ERROR = 1 << 5;

/** Capability defaults when a peer does not state them (spec "Version"). */
export const DEFAULT_MAX_MSG_FDS = 1;
export const DEFAULT_MAX_DATA_XFER_SIZE = 1048576;
export const DEFAULT_MAX_DMA_MAPS = 65535;
export const DEFAULT_PGSIZES = 4096n;
