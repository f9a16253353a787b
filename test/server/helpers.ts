import assert from "node:assert/strict";
import { Command, VFIO_USER_F_NO_REPLY } from "../../src/protocol/index.js";
import type { RawClient } from "./raw-client.js";

/** Asserts that `p` rejects with an error reply carrying `errno`. */
export async function rejectsWith(p: Promise<unknown>, errno: number, what = ""): Promise<void> {
  await assert.rejects(p, (e: Error & { errno?: number }) => {
    assert.equal(e.errno, errno, `${what}: expected errno ${errno}, got ${e.errno} (${e.message})`);
    return true;
  });
}

export const E = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOTTY: 25,
  ENOSPC: 28,
  ENOSYS: 38,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
} as const;

/** Config space offset of the standard capability `id`, walking the list over the socket. */
export async function findCap(c: RawClient, id: number): Promise<number> {
  let ptr = (await c.regionRead(7, 0x34, 1))[0]! & 0xfc;
  for (let guard = 0; ptr !== 0 && guard < 48; guard++) {
    const hdr = await c.regionRead(7, ptr, 2);
    if (hdr[0] === id) return ptr;
    ptr = hdr[1]! & 0xfc;
  }
  throw new Error(`capability 0x${id.toString(16)} not found`);
}

export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const CMD_IO = 0x1;
export const CMD_MEMORY = 0x2;
export const CMD_INTX_DISABLE = 0x400;
export const STATUS_INTERRUPT = 0x8;

export { Command, VFIO_USER_F_NO_REPLY };
