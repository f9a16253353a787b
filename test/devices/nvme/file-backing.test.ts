/**
 * FileBacking against real files: what `vfio-ts serve nvme --backing FILE --size N`
 * opens, creates or extends, and the errors it gives.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { FileBacking } from "../../../src/devices/nvme/index.js";

describe("NVMe file backing", () => {
  const dir = mkdtempSync(join(tmpdir(), "vfio-ts-backing-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("creates a missing file of the given size, sparse, and keeps what is written", async () => {
    const path = join(dir, "new.img");
    const b = new FileBacking(path, 64 << 20);
    try {
      assert.equal(b.size, 64 << 20);
      assert.equal(statSync(path).size, 64 << 20);
      assert.ok(statSync(path).blocks * 512 < 1 << 20, "nothing but the last block is allocated");
      await b.write(4096, new Uint8Array([1, 2, 3]));
      await b.flush();
    } finally {
      b.close();
    }
    assert.deepEqual([...readFileSync(path).subarray(4095, 4099)], [0, 1, 2, 3]);
  });

  it("refuses a missing file without a size, saying so", () => {
    assert.throws(
      () => new FileBacking(join(dir, "absent.img")),
      (e: Error & { code?: string }) =>
        e.code === "ENOENT" &&
        /absent\.img does not exist \(give a size to create it\)/.test(e.message),
    );
  });

  it("opens an existing file at its own size, and extends a smaller one to the size given", () => {
    const path = join(dir, "old.img");
    writeFileSync(path, new Uint8Array(8192).fill(7));
    const own = new FileBacking(path);
    assert.equal(own.size, 8192);
    own.close();
    const grown = new FileBacking(path, 1 << 20);
    grown.close();
    assert.equal(statSync(path).size, 1 << 20);
    assert.equal(readFileSync(path)[8191], 7, "the existing bytes stay");
  });
});
