/**
 * A device that behaves like libvfio-user's samples/server, so that project's
 * samples/client (and our replay of it, lvu-sample-client.test.ts) can run its whole
 * sequence, migration included, against our server. Written on our device SDK from
 * what that server does as seen on the wire; none of its code is here.
 *
 * - Ids 0xdead:0xbeef, subsystem 0xcafe:0xbabe; INTx, and ERR and REQ offered (the
 *   client asks about every index).
 * - BAR0: a time register. Writing an absolute time `t` (seconds since the epoch, a
 *   64-bit time_t, at offset 0) while running arms a timer for `t`; reading gives
 *   `now - t`. Any other offset or size is EINVAL. When the timer fires the device
 *   raises INTx and then does DMA: into its second DMA window directly (through the
 *   fd the client gave) and into its first one by DMA_WRITE/DMA_READ messages, four
 *   1 KiB writes of 'A', 'B', 'C', 'D' then two 2 KiB reads that must match. "First"
 *   and "second" are slots as libvfio-user's sample keeps them: a new window takes
 *   the lowest free slot.
 * - BAR1: 12 KiB of RAM (`RAM_SIZE`) the client may mmap in two sparse areas, the
 *   first and the last page; the middle page is reached by messages only. A PCI BAR
 *   is a power of two, so ours is 16 KiB and its last 4 KiB only pad it: they are not
 *   part of the RAM and do not migrate (libvfio-user's region is 12 KiB and refuses
 *   accesses past it).
 * - Migration with pre-copy: the pre-copy data is the RAM, in chunks (offset u32 and
 *   bytes); the stop-copy data is the RAM and BAR0's time (12 KiB + 8 bytes, as the
 *   sample's). Leaving RUNNING disarms the timer; running again (on the destination,
 *   after its state is loaded) arms it for BAR0's time, at once if that has passed.
 */
import { VfioError } from "../../src/errors.js";
import type { DeviceContext, DeviceDefinition, DmaWindowInfo } from "../../src/server/index.js";

export const VENDOR_ID = 0xdead;
export const DEVICE_ID = 0xbeef;
export const SUBSYSTEM_VENDOR_ID = 0xcafe;
export const SUBSYSTEM_ID = 0xbabe;
/** The RAM behind BAR1 that migrates: what the sample calls bar1_size. */
export const RAM_SIZE = 0x3000;
/** BAR1 as a PCI BAR: RAM_SIZE rounded up to a power of two. */
export const BAR1_SIZE = 0x4000;
/** Stop-copy state: the RAM, then BAR0's time (int64 little-endian). */
export const SAVED_SIZE = RAM_SIZE + 8;
/** One DMA transfer of the timer's DMA exercise. */
export const DMA_CHUNK = 1024;
/** How many chunks it writes into each of its two windows. */
export const DMA_CHUNKS = 4;

/** The bytes the timer's DMA exercise leaves in each of the two windows' first 4 KiB. */
export function dmaPattern(): Uint8Array {
  const out = new Uint8Array(DMA_CHUNK * DMA_CHUNKS);
  for (let i = 0; i < DMA_CHUNKS; i++) {
    out.fill(0x41 + i, i * DMA_CHUNK, (i + 1) * DMA_CHUNK);
  }
  return out;
}

function nowSeconds(): bigint {
  return BigInt(Math.floor(Date.now() / 1000));
}

class LvuSampleModel {
  /** BAR0: the absolute time last written. */
  time = 0n;
  timer: NodeJS.Timeout | undefined;
  /** DMA windows in slots, as the sample numbers them (a new one takes the lowest free). */
  readonly slots: (DmaWindowInfo | undefined)[] = [];
  /** Where pre-copy goes on with the RAM. */
  precopyAt = 0;

  ram(dev: DeviceContext): Uint8Array {
    const memory = dev.bar(1).memory;
    if (memory === undefined) throw new VfioError("EIO", "BAR1 has no memory");
    return memory.subarray(0, RAM_SIZE);
  }

  arm(dev: DeviceContext): void {
    this.disarm();
    if (this.time === 0n) return;
    const ms = Number(this.time - nowSeconds()) * 1000;
    dev.log.debug(`timer armed for ${this.time} (in ${Math.max(0, ms)} ms)`);
    this.timer = setTimeout(() => this.fire(dev), Math.max(0, ms));
    this.timer.unref();
  }

  disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  fire(dev: DeviceContext): void {
    this.timer = undefined;
    dev.irq.trigger(0);
    dev.tasks.run(async () => {
      await this.dmaExercise(dev, 1, false);
      await this.dmaExercise(dev, 0, true);
    }, "timer DMA");
  }

  /** Writes the pattern into slot `slot`'s window in 1 KiB pieces, reads it back in 2 KiB. */
  async dmaExercise(dev: DeviceContext, slot: number, messages: boolean): Promise<void> {
    const w = this.slots[slot];
    if (w === undefined) throw new VfioError("EFAULT", `no DMA window in slot ${slot}`);
    const pattern = dmaPattern();
    for (let i = 0; i < DMA_CHUNKS; i++) {
      const at = i * DMA_CHUNK;
      await dev.dma.write(w.iova + BigInt(at), pattern.subarray(at, at + DMA_CHUNK), {
        messages,
      });
    }
    const back = new Uint8Array(pattern.byteLength);
    for (let at = 0; at < back.byteLength; at += 2 * DMA_CHUNK) {
      back.set(await dev.dma.read(w.iova + BigInt(at), 2 * DMA_CHUNK, { messages }), at);
    }
    if (!back.every((b, i) => b === pattern[i])) {
      throw new VfioError("EIO", `DMA to slot ${slot}: what was read back differs`);
    }
    dev.log.debug(`DMA to slot ${slot} by ${messages ? "messages" : "fd"}: success`);
  }

  definition(): DeviceDefinition {
    return {
      name: "lvu-sample",
      vendorId: VENDOR_ID,
      deviceId: DEVICE_ID,
      subsystemVendorId: SUBSYSTEM_VENDOR_ID,
      subsystemId: SUBSYSTEM_ID,
      classCode: 0,
      // samples/client asks GET_IRQ_INFO of every index and stops at a failure; without
      // a PCIe capability we would answer EINVAL for ERR (as vfio-pci does), so offer it.
      errIrq: true,
      bars: [
        {
          kind: "mem32",
          size: 16,
          read: (offset, size) => {
            checkTimeAccess(offset, size);
            return BigInt.asUintN(64, nowSeconds() - this.time);
          },
          write: (offset, data, dev) => {
            checkTimeAccess(offset, data.byteLength);
            this.time = new DataView(data.buffer, data.byteOffset, 8).getBigInt64(0, true);
            this.arm(dev); // handlers run only while the device runs
          },
        },
        {
          kind: "mem32",
          size: BAR1_SIZE,
          mmap: [
            { offset: 0, size: 0x1000 },
            { offset: 0x2000, size: 0x1000 },
          ],
        },
      ],
      onDmaMap: (window) => {
        const free = this.slots.indexOf(undefined);
        if (free === -1) this.slots.push(window);
        else this.slots[free] = window;
      },
      onDmaUnmap: (window) => {
        const at = this.slots.findIndex((w) => w?.iova === window.iova && w.size === window.size);
        if (at !== -1) this.slots[at] = undefined;
      },
      onDetach: () => {
        this.slots.length = 0;
      },
      migration: {
        stop: () => {
          this.disarm();
          this.precopyAt = 0;
        },
        start: (dev) => {
          this.precopyAt = 0;
          this.arm(dev);
        },
        precopy: {
          read: (max, dev) => {
            const n = Math.min(max - 4, RAM_SIZE - this.precopyAt);
            if (n <= 0) return new Uint8Array(0);
            const chunk = new Uint8Array(4 + n);
            new DataView(chunk.buffer).setUint32(0, this.precopyAt, true);
            chunk.set(this.ram(dev).subarray(this.precopyAt, this.precopyAt + n), 4);
            this.precopyAt += n;
            return chunk;
          },
          load: (chunk, dev) => {
            const at =
              chunk.byteLength >= 4
                ? new DataView(chunk.buffer, chunk.byteOffset).getUint32(0, true)
                : -1;
            if (at < 0 || at + chunk.byteLength - 4 > RAM_SIZE) {
              throw new VfioError("EINVAL", "pre-copy chunk outside the RAM");
            }
            this.ram(dev).set(chunk.subarray(4), at);
          },
        },
        save: (dev) => {
          const out = new Uint8Array(SAVED_SIZE);
          out.set(this.ram(dev));
          new DataView(out.buffer).setBigInt64(RAM_SIZE, this.time, true);
          return out;
        },
        load: (state, dev) => {
          if (state.byteLength !== SAVED_SIZE) {
            throw new VfioError("EINVAL", `state of ${state.byteLength} bytes, not ${SAVED_SIZE}`);
          }
          this.ram(dev).set(state.subarray(0, RAM_SIZE));
          this.time = new DataView(state.buffer, state.byteOffset).getBigInt64(RAM_SIZE, true);
        },
      },
    };
  }
}

function checkTimeAccess(offset: number, size: number): void {
  if (offset !== 0 || size !== 8) {
    throw new VfioError(
      "EINVAL",
      `bad BAR0 access 0x${offset.toString(16)}-0x${(offset + size - 1).toString(16)}`,
    );
  }
}

/** A fresh device (what `vfio-ts serve` calls: this module's default export). */
export function lvuSampleDevice(): DeviceDefinition {
  return new LvuSampleModel().definition();
}

export default lvuSampleDevice;
