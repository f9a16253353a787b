import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { dupFd, fdSize } from "../../src/sys/fd.js";
import { memlockLimit } from "../../src/sys/limits.js";
import { F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, MemFd } from "../../src/sys/memfd.js";
import { mmap, munmap, PROT_READ } from "../../src/sys/mmap.js";
import { openFdCount } from "../helpers/fds.js";

const PAGE = 4096;

describe("memfd and mmap", () => {
  it("creates a memfd of the asked size and resizes it", () => {
    const m = MemFd.create("vfio-test", 3 * PAGE);
    try {
      assert.equal(m.size, 3n * 4096n);
      m.resize(10n * 4096n);
      assert.equal(m.size, 40960n);
      assert.equal(fdSize(m.fd), 40960n);
      m.resize(0);
      assert.equal(m.size, 0n);
    } finally {
      m.close();
    }
    assert.equal(m.closed, true);
    assert.throws(() => m.size, { code: "EBADF" });
    m.close();
  });

  it("seals size so a peer holding the fd cannot truncate it", () => {
    const m = MemFd.create("vfio-test-sealed", 2 * PAGE, { allowSealing: true });
    const peer = new MemFd(dupFd(m.fd));
    try {
      const seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
      assert.equal(m.seal(seals) & seals, seals);
      assert.equal(peer.seals & seals, seals, "seals belong to the file, not the fd");
      assert.throws(() => peer.resize(0), { code: "EPERM" });
      assert.throws(() => peer.resize(4 * PAGE), { code: "EPERM" });
      assert.equal(m.size, 2n * 4096n);
      const plain = MemFd.create("vfio-test-unsealable", PAGE);
      try {
        assert.throws(() => plain.seal(F_SEAL_SHRINK), { code: "EPERM" });
      } finally {
        plain.close();
      }
    } finally {
      peer.close();
      m.close();
    }
  });

  it("two mappings of one memfd share bytes, at page offsets", () => {
    const m = MemFd.create("share", 4 * PAGE);
    try {
      const whole = new Uint8Array(m.map(0, 4 * PAGE));
      const third = new Uint8Array(mmap(m.fd, 2n * 4096n, PAGE));
      assert.equal(third.length, PAGE);
      whole[2 * PAGE + 10] = 99;
      assert.equal(third[10], 99);
      third[PAGE - 1] = 42;
      assert.equal(whole[3 * PAGE - 1], 42);
      new DataView(whole.buffer).setBigUint64(2 * PAGE + 16, 0x1122334455667788n, true);
      assert.equal(new DataView(third.buffer).getBigUint64(16, true), 0x1122334455667788n);
      munmap(whole.buffer as ArrayBuffer);
      munmap(third.buffer as ArrayBuffer);
    } finally {
      m.close();
    }
  });

  it("mappings outlive the fd, and munmap detaches the buffer", () => {
    const m = MemFd.create("detach", PAGE);
    const ab = m.map(0, PAGE);
    const view = new Uint8Array(ab);
    m.close();
    view[0] = 1;
    assert.equal(view[0], 1, "still mapped after close(fd)");
    assert.equal(munmap(ab), true);
    assert.equal(ab.byteLength, 0);
    assert.equal(view.length, 0);
    assert.equal(view[0], undefined, "reads of a detached buffer see nothing");
    assert.throws(() => new DataView(ab), TypeError);
    assert.equal(munmap(ab), false, "second munmap is a no-op");
  });

  it("unmaps buffers that are garbage collected without munmap", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const name = `gc-probe-${process.pid}`;
    const mapped = () =>
      readFileSync("/proc/self/maps", "utf8")
        .split("\n")
        .filter((l) => l.includes(name)).length;
    const m = MemFd.create(name, PAGE);
    for (let i = 0; i < 20; i++) new Uint8Array(m.map(0, PAGE))[0] = i;
    const kept = m.map(0, PAGE);
    m.close();
    assert.equal(mapped(), 21);
    for (let i = 0; i < 20 && mapped() > 1; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(mapped(), 1, "only the buffer still referenced stays mapped");
    assert.equal(new Uint8Array(kept)[0], 19);
    munmap(kept);
    await new Promise((r) => setImmediate(r));
    assert.equal(mapped(), 0);
  });

  it("maps read-only", () => {
    const m = MemFd.create("ro", PAGE);
    try {
      const rw = new Uint8Array(m.map(0, PAGE));
      const ro = new Uint8Array(mmap(m.fd, 0, PAGE, PROT_READ));
      rw[5] = 5;
      assert.equal(ro[5], 5);
      munmap(ro.buffer as ArrayBuffer);
      munmap(rw.buffer as ArrayBuffer);
    } finally {
      m.close();
    }
  });

  it("reports errno-named errors and rejects bad arguments", () => {
    const m = MemFd.create("err", PAGE);
    try {
      assert.throws(() => mmap(m.fd, 1, PAGE), { code: "EINVAL", syscall: "mmap" });
      assert.throws(() => mmap(m.fd, 0, 0), RangeError);
      assert.throws(() => mmap(m.fd, -1n, PAGE), RangeError);
      assert.throws(() => mmap(m.fd, 0, PAGE, 4), RangeError);
      assert.throws(() => m.resize(-1), RangeError);
      assert.throws(() => munmap(new ArrayBuffer(8)), TypeError);
    } finally {
      m.close();
    }
    const before = openFdCount();
    assert.throws(() => MemFd.create("neg", -5), RangeError);
    assert.equal(openFdCount(), before, "a failed create closes its fd");
  });
});

describe("memlockLimit", () => {
  it("reports soft <= hard as bytes or 'unlimited'", () => {
    const { soft, hard } = memlockLimit();
    for (const v of [soft, hard]) assert.ok(v === "unlimited" || typeof v === "bigint");
    if (hard !== "unlimited") {
      assert.notEqual(soft, "unlimited");
      assert.ok((soft as bigint) <= hard);
    }
  });
});
