import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DmaController, type DmaRemote } from "../../src/server/dma.js";

/** Client memory served by messages, whose DMA_READ replies the test releases. */
function heldRemote() {
  let started!: () => void;
  const readStarted = new Promise<void>((r) => {
    started = r;
  });
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  const remote: DmaRemote = {
    maxXfer: 4096,
    async read(_iova, count) {
      started();
      await released;
      return new Uint8Array(count).fill(0x42);
    },
    async write() {},
  };
  return { remote, readStarted, release };
}

describe("DmaController: DMA_UNMAP waits for accesses in flight", () => {
  it("releases the window only once the access that uses it has finished", async () => {
    const dma = new DmaController();
    const { remote, readStarted, release } = heldRemote();
    dma.attach(remote, 16, 4096n);
    const iova = 0x600000n;
    dma.map({ iova, size: 0x1000n, readable: true, writable: true, offset: 0n, fd: undefined });
    const read = dma.read(iova, 8);
    await readStarted;
    const unmapped = dma.unmap(iova, 0x1000n);
    assert.ok(unmapped instanceof Promise, "an access is in flight: the release is deferred");
    assert.deepEqual(dma.windows(), [], "the window left the IOMMU at once");
    let done = false;
    void unmapped.then(() => {
      done = true;
    });
    // Nothing but `release` can settle it: a turn of the event loop changes nothing.
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false);
    release();
    assert.deepEqual(await read, new Uint8Array(8).fill(0x42));
    await unmapped;
    assert.equal(done, true);
    await dma.detach();
  });

  it("answers at once (no promise) when no access uses the window", () => {
    const dma = new DmaController();
    dma.attach(heldRemote().remote, 16, 4096n);
    dma.map({
      iova: 0x1000n,
      size: 0x1000n,
      readable: true,
      writable: false,
      offset: 0n,
      fd: undefined,
    });
    assert.equal(dma.unmap(0x1000n, 0x1000n), undefined);
  });
});
