/**
 * IrqVector.wait() with a timeout and an AbortSignal, on a real eventfd: it gives up
 * with ETIMEDOUT or the signal's reason, and a wait that gave up takes no trigger.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IrqVector } from "../../src/client/irq-vector.js";
import { EventFd } from "../../src/sys/index.js";

const control = { mask: async () => {}, unmask: async () => {} };

function vector(): { v: IrqVector; efd: EventFd } {
  const efd = EventFd.create();
  return { v: new IrqVector(2, 0, efd, control, () => {}), efd };
}

describe("IrqVector.wait with a timeout or an AbortSignal", () => {
  it("rejects with ETIMEDOUT once timeoutMs passes without a trigger", async () => {
    const { v } = vector();
    try {
      await assert.rejects(v.wait({ timeoutMs: 20 }), {
        code: "ETIMEDOUT",
        message: /did not fire within 20 ms/,
      });
    } finally {
      v.close();
    }
  });

  it("rejects with the signal's reason when it aborts, and at once when already aborted", async () => {
    const { v } = vector();
    try {
      const ac = new AbortController();
      const waiting = v.wait({ signal: ac.signal });
      ac.abort(new Error("driver unloading"));
      await assert.rejects(waiting, /driver unloading/);
      await assert.rejects(
        v.wait({ signal: AbortSignal.abort(new Error("too late")) }),
        /too late/,
      );
    } finally {
      v.close();
    }
  });

  it("a wait that gave up takes no trigger: the next wait gets it", async () => {
    const { v, efd } = vector();
    try {
      await assert.rejects(v.wait({ timeoutMs: 5 }));
      efd.signal(3n);
      assert.equal(await v.wait({ timeoutMs: 5000 }), 3);
    } finally {
      v.close();
    }
  });
});
