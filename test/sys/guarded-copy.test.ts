import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { copyGuarded, MemFd, mmap, munmap } from "../../src/sys/index.js";

const PAGE = 4096;

describe("copyGuarded", () => {
  it("copies like set() while the memory is there", () => {
    const fd = MemFd.create("guarded", 2 * PAGE);
    const ab = mmap(fd.fd, 0, 2 * PAGE);
    try {
      const mapped = new Uint8Array(ab);
      const src = new Uint8Array(2 * PAGE).map((_, i) => i & 0xff);
      assert.equal(copyGuarded(mapped, src), 2 * PAGE);
      assert.deepEqual(mapped, src);
      const back = new Uint8Array(100);
      assert.equal(copyGuarded(back, mapped.subarray(10)), 100, "the shorter length");
      assert.deepEqual(back, src.subarray(10, 110));
    } finally {
      munmap(ab);
      fd.close();
    }
  });

  it("turns SIGBUS from a truncated file into EFAULT, both ways, and the process lives on", () => {
    const fd = MemFd.create("truncated", 4 * PAGE);
    const ab = mmap(fd.fd, 0, 4 * PAGE);
    try {
      const mapped = new Uint8Array(ab);
      mapped.fill(7);
      fd.resize(PAGE); // pages 1..3 are gone; touching them is SIGBUS
      const buf = new Uint8Array(2 * PAGE);
      const efault = (e: unknown) => (e as { code?: string }).code === "EFAULT";
      assert.throws(() => copyGuarded(buf, mapped.subarray(0, 2 * PAGE)), efault);
      assert.throws(() => copyGuarded(mapped.subarray(PAGE), buf), efault);
      assert.throws(() => copyGuarded(mapped.subarray(3 * PAGE), buf), efault, "again");
      // The page that is still there copies as before.
      assert.equal(copyGuarded(buf.subarray(0, PAGE), mapped), PAGE);
      assert.ok(buf.subarray(0, PAGE).every((b) => b === 7));
    } finally {
      munmap(ab);
      fd.close();
    }
  });

  it("leaves other SIGBUS faults alone: an unguarded touch still kills the process", () => {
    const sys = fileURLToPath(new URL("../../src/sys/index.js", import.meta.url));
    const script = `
      const { copyGuarded, MemFd, mmap } = await import(${JSON.stringify(sys)});
      const fd = MemFd.create("x", 8192);
      const m = new Uint8Array(mmap(fd.fd, 0, 8192));
      copyGuarded(new Uint8Array(1), m); // installs the handler
      fd.resize(0);
      try { copyGuarded(new Uint8Array(1), m); } catch (e) { console.log("guarded:", e.code); }
      m[4096] = 1; // not guarded: the default action
      console.log("survived an unguarded SIGBUS");
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    assert.match(r.stdout, /guarded: EFAULT/);
    assert.doesNotMatch(r.stdout, /survived/);
    assert.equal(r.signal, "SIGBUS");
  });
});
