import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { ClientInfo, DmaWindowInfo } from "../../src/server/device.js";
import { type HeldEvent, HeldEvents } from "../../src/server/migration/held-events.js";

const PAGE = 4096n;
const win = (slot: number): DmaWindowInfo => ({
  iova: BigInt(slot) * PAGE,
  size: PAGE,
  readable: true,
  writable: true,
  mapped: false,
});
const client = { pid: 1 } as unknown as ClientInfo;

function label(e: HeldEvent): string {
  return e.kind === "map" || e.kind === "unmap" ? `${e.kind} ${e.window.iova / PAGE}` : e.kind;
}

/**
 * A stopped period as a server lives it: a client may be attached at the stop (with
 * windows), then clients come and go, each mapping and unmapping windows while it is
 * there; a leaving client's windows are unmapped before it detaches.
 */
const period = fc.record({
  attachedAtStop: fc.boolean(),
  premapped: fc.uniqueArray(fc.integer({ min: 0, max: 15 }), { maxLength: 6 }),
  steps: fc.array(fc.oneof(fc.integer({ min: 0, max: 15 }), fc.constant("reconnect" as const)), {
    maxLength: 300,
  }),
});

describe("HeldEvents", () => {
  it("delivers the net of a stopped period, in order, and holds no more than is owed", () => {
    fc.assert(
      fc.property(period, ({ attachedAtStop, premapped, steps }) => {
        const held = new HeldEvents();
        // The device's view at the stop, and the world as it goes on.
        const viewAttached = attachedAtStop;
        const view = new Set(attachedAtStop ? premapped : []);
        let attached = attachedAtStop;
        const mapped = new Set(view);
        const hold = (e: HeldEvent) => {
          held.hold(e);
          // Owed at most: an unmap per window the device knows, a map per window now
          // mapped, a detach of the client it knows and an attach of the current one.
          const bound = view.size + mapped.size + 2;
          assert.ok(held.size <= bound, `${held.size} held, bound ${bound}`);
        };
        for (const step of steps) {
          if (step === "reconnect") {
            for (const s of [...mapped]) {
              mapped.delete(s);
              hold({ kind: "unmap", window: win(s) });
            }
            if (attached) hold({ kind: "detach" });
            hold({ kind: "attach", client });
            attached = true;
          } else if (attached) {
            const kind = mapped.has(step) ? "unmap" : "map";
            if (kind === "map") mapped.add(step);
            else mapped.delete(step);
            hold({ kind, window: win(step) });
          }
        }
        // Replaying what was delivered on the device's view gives the world as it is,
        // with every event meaningful: no unmap of an unknown window, no double map.
        const got = held.take();
        let knowsClient = viewAttached;
        const known = new Set(view);
        for (const e of got) {
          switch (e.kind) {
            case "map": {
              const s = Number(e.window.iova / PAGE);
              assert.ok(knowsClient && !known.has(s), `map ${s}: ${got.map(label)}`);
              known.add(s);
              break;
            }
            case "unmap": {
              const s = Number(e.window.iova / PAGE);
              assert.ok(known.delete(s), `unmap ${s} of an unknown window: ${got.map(label)}`);
              break;
            }
            case "detach":
              assert.ok(knowsClient && known.size === 0, `detach: ${got.map(label)}`);
              knowsClient = false;
              break;
            case "attach":
              assert.ok(!knowsClient, `attach over a known client: ${got.map(label)}`);
              knowsClient = true;
              break;
          }
        }
        assert.equal(knowsClient, attached);
        assert.deepEqual([...known].sort(), [...mapped].sort());
        // Nothing superfluous: at most one detach (of the client known at the stop) and
        // one attach (of the client there now).
        assert.ok(got.filter((e) => e.kind === "detach").length <= 1);
        assert.ok(got.filter((e) => e.kind === "attach").length <= 1);
        assert.equal(held.size, 0);
        assert.deepEqual(held.take(), []);
      }),
    );
  });
});
