import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MmioWindow } from "../../src/client/mmio-window.js";
import { VfioError } from "../../src/errors.js";
import { MemFd, mmap, munmap } from "../../src/sys/index.js";

function setup(size = 8192, writable = true) {
  const memfd = MemFd.create("mmio-window-test", size);
  let blocked: string | null = null;
  let maps = 0;
  let unmaps = 0;
  const w = new MmioWindow(
    0,
    0n,
    size,
    "test BAR0",
    { blockedReason: () => blocked },
    {
      readable: true,
      writable,
      map: () => {
        maps++;
        return mmap(memfd.fd, 0, size);
      },
      unmap: (ab) => {
        unmaps++;
        munmap(ab);
      },
    },
  );
  // A second, independent view of the same memory: what the "device" sees.
  const device = new DataView(mmap(memfd.fd, 0, size));
  return {
    w,
    device,
    memfd,
    block: (r: string | null) => {
      blocked = r;
    },
    counts: () => ({ maps, unmaps }),
    dispose: () => {
      w.close();
      munmap(device.buffer as ArrayBuffer);
      memfd.close();
    },
  };
}

describe("MmioWindow", () => {
  it("maps lazily on first access and reads/writes little-endian through the shared memory", () => {
    const t = setup();
    try {
      assert.equal(t.w.zapped, true);
      assert.equal(t.counts().maps, 0);
      t.device.setUint32(0x10, 0xdeadbeef, true);
      assert.equal(t.w.read32(0x10), 0xdeadbeef);
      assert.equal(t.w.zapped, false);
      t.w.write64(0x20, 0x0123456789abcdefn);
      assert.equal(t.device.getBigUint64(0x20, true), 0x0123456789abcdefn);
      t.w.write16(0x30, 0xbeef);
      t.w.write8(0x32, 0x7f);
      assert.equal(t.w.read16(0x30), 0xbeef);
      assert.equal(t.w.read8(0x32), 0x7f);
      assert.deepEqual(t.w.read(0x30, 3), Uint8Array.of(0xef, 0xbe, 0x7f));
      assert.equal(t.counts().maps, 1);
    } finally {
      t.dispose();
    }
  });

  it("zap detaches the ArrayBuffer; a blocked access throws EIO naming the reason", () => {
    const t = setup();
    try {
      const ab = t.w.buffer;
      const stale = new Uint32Array(ab);
      assert.equal(ab.byteLength, 8192);
      t.block("memory decoding is disabled (PCI_COMMAND_MEMORY is clear)");
      t.w.zap();
      assert.equal(ab.byteLength, 0, "munmap must detach the old buffer");
      assert.equal(stale.length, 0);
      assert.equal(t.w.zapped, true);
      assert.throws(
        () => t.w.read32(0),
        (e: unknown) =>
          e instanceof VfioError && e.code === "EIO" && /PCI_COMMAND_MEMORY/.test(e.message),
      );
      assert.throws(() => t.w.write32(0, 1), /access blocked/);
      assert.throws(() => t.w.buffer, /access blocked/);
    } finally {
      t.dispose();
    }
  });

  it("a mapped window is zapped at the first blocked access even if nobody zapped it", () => {
    const t = setup();
    try {
      const ab = t.w.buffer;
      t.block("the device is being reset");
      assert.throws(() => t.w.read8(0), /being reset/);
      assert.equal(ab.byteLength, 0);
    } finally {
      t.dispose();
    }
  });

  it("faults back in transparently on the next access once unblocked, seeing current device data", () => {
    const t = setup();
    try {
      t.w.write32(0, 1);
      t.block("off");
      t.w.zap();
      t.device.setUint32(0, 42, true);
      t.block(null);
      assert.equal(t.w.read32(0), 42);
      assert.equal(t.w.faultIns, 2);
      assert.deepEqual(t.counts(), { maps: 2, unmaps: 1 });
    } finally {
      t.dispose();
    }
  });

  it("refuses writes to a read-only mapping with EACCES instead of faulting the process", () => {
    const t = setup(4096, false);
    try {
      t.device.setUint8(0, 0x11);
      assert.equal(t.w.read8(0), 0x11);
      assert.throws(
        () => t.w.write8(0, 1),
        (e: unknown) => e instanceof VfioError && e.code === "EACCES",
      );
      assert.throws(() => t.w.write(0, new Uint8Array(2)), /does not allow writes/);
      assert.equal(t.device.getUint8(0), 0x11);
    } finally {
      t.dispose();
    }
  });

  it("rejects out-of-range accesses with EINVAL and closed windows with EBADF", () => {
    const t = setup(4096);
    try {
      assert.throws(
        () => t.w.read32(4094),
        (e: unknown) => e instanceof VfioError && e.code === "EINVAL",
      );
      assert.throws(
        () => t.w.read8(-1),
        (e: unknown) => e instanceof VfioError && e.code === "EINVAL",
      );
      assert.throws(() => t.w.write(4090, new Uint8Array(7)), /outside the 4096-byte mapping/);
      t.w.close();
      assert.throws(
        () => t.w.read8(0),
        (e: unknown) => e instanceof VfioError && e.code === "EBADF",
      );
      t.w.close();
    } finally {
      t.dispose();
    }
  });
});
