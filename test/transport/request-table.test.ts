import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { EXPIRED, RequestTable, type Waiter } from "../../src/transport/request-table.js";

function waiter(id: number): Waiter {
  return { id, command: 1, timeoutMs: 0, resolve: () => {}, reject: () => {}, timer: undefined };
}

describe("RequestTable", () => {
  it("never hands out an id in use and tracks waiting vs expired (model)", () => {
    type Op = { kind: "add" } | { kind: "take" | "expire"; pick: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.constant({ kind: "add" as const }),
      fc.record({ kind: fc.constantFrom("take" as const, "expire" as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const t = new RequestTable();
        const live = new Map<number, Waiter>();
        const expired = new Set<number>();
        for (const o of ops) {
          if (o.kind === "add") {
            const id = t.freeId();
            assert.ok(!live.has(id) && !expired.has(id), `id ${id} is in use`);
            const w = waiter(id);
            t.add(w);
            live.set(id, w);
          } else {
            const used = [...live.keys(), ...expired];
            if (used.length === 0) continue;
            const id = used[o.pick % used.length]!;
            if (o.kind === "take") {
              const got = t.take(id);
              if (expired.delete(id)) assert.equal(got, EXPIRED);
              else {
                assert.equal(got, live.get(id));
                live.delete(id);
              }
            } else if (live.has(id)) {
              assert.ok(t.expire(live.get(id)!));
              live.delete(id);
              expired.add(id);
            } else {
              assert.equal(t.expire(waiter(id)), false);
            }
          }
          assert.equal(t.size, live.size);
        }
        const drained = t.drain();
        assert.deepEqual(new Set(drained), new Set(live.values()));
        assert.equal(t.size, 0);
        assert.equal(t.take([...expired][0] ?? 0), undefined);
      }),
    );
  });

  it("reports -1 when all 65536 ids are in use, and wraps", () => {
    const t = new RequestTable();
    for (let i = 0; i < 0x10000; i++) {
      const id = t.freeId();
      assert.equal(id, i);
      t.add(waiter(id));
    }
    assert.equal(t.freeId(), -1);
    t.take(300);
    assert.equal(t.freeId(), 300);
    t.add(waiter(300));
    t.take(5);
    t.take(7);
    assert.equal(t.freeId(), 5);
    assert.equal(t.freeId(), 7);
  });
});
