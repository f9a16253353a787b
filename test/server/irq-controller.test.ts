import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type IrqCapabilities, IrqController } from "../../src/server/irqs/irq-controller.js";
import type { IrqAction, IrqSetData, IrqSetRequest } from "../../src/server/irqs/set-irqs.js";
import { MsixTable } from "../../src/server/msix-table.js";
import { FakeEventFds } from "./fake-eventfds.js";

const INTX = 0;
const MSI = 1;
const MSIX = 2;
const ERR = 3;
const REQ = 4;

function make(caps: Partial<IrqCapabilities> = {}) {
  const full: IrqCapabilities = {
    intxPin: 1,
    msiVectors: 4,
    msixVectors: 8,
    err: true,
    req: true,
    ...caps,
  };
  const efds = new FakeEventFds();
  const table = full.msixVectors > 0 ? new MsixTable(full.msixVectors) : undefined;
  const status: boolean[] = [];
  const c = new IrqController({
    caps: full,
    eventfds: efds,
    msixTable: table,
    onIntxAsserted: (a) => status.push(a),
  });
  return { c, efds, table, status };
}

let nextFd = 100;
function fds(n: number): number[] {
  return Array.from({ length: n }, () => nextFd++);
}
function req(
  index: number,
  action: IrqAction,
  start: number,
  count: number,
  data: IrqSetData,
): IrqSetRequest {
  return { index, action, start, count, data };
}
const none: IrqSetData = { kind: "none" };
const ev = (f: number[]): IrqSetData => ({ kind: "eventfd", fds: f });
const bool = (...v: number[]): IrqSetData => ({ kind: "bool", values: new Uint8Array(v) });

describe("IrqController info", () => {
  it("reports vfio-pci flags and declared counts", () => {
    const { c } = make();
    assert.deepEqual(c.info(INTX), { flags: 0b0111, count: 1 });
    assert.deepEqual(c.info(MSI), { flags: 0b0011, count: 4 });
    assert.deepEqual(c.info(MSIX), { flags: 0b0011, count: 8 });
    assert.deepEqual(c.info(ERR), { flags: 0b1001, count: 1 });
    assert.deepEqual(c.info(REQ), { flags: 0b1001, count: 1 });
    assert.throws(() => c.info(5), { code: "EINVAL" });
    const bare = make({ intxPin: 0, msiVectors: 0, msixVectors: 0, err: false, req: false }).c;
    for (const i of [INTX, MSI, MSIX, REQ]) assert.equal(bare.info(i).count, 0);
    assert.throws(() => bare.info(ERR), { code: "EINVAL" }, "no ERR index without AER/PCIe");
  });
});

describe("SET_IRQS semantics", () => {
  it("validates ranges against the capability", () => {
    const { c } = make();
    assert.throws(() => c.setIrqs(req(MSIX, "trigger", 8, 1, ev(fds(1)))), { code: "EINVAL" });
    assert.throws(() => c.setIrqs(req(MSIX, "trigger", 7, 2, ev(fds(2)))), { code: "EINVAL" });
    assert.throws(() => c.setIrqs(req(INTX, "trigger", 0, 2, ev(fds(2)))), { code: "EINVAL" });
    assert.throws(() => c.setIrqs(req(MSIX, "mask", 0, 0, none)), { code: "EINVAL" });
    assert.throws(() => c.setIrqs(req(MSIX, "trigger", 0, 2, ev(fds(1)))), { code: "EINVAL" });
    assert.throws(() => c.setIrqs(req(MSIX, "trigger", 0, 3, bool(1, 1))), { code: "EINVAL" });
    assert.throws(() => c.setIrqs(req(7, "trigger", 0, 1, none)), { code: "EINVAL" });
    const noMsi = make({ msiVectors: 0 }).c;
    assert.throws(() => noMsi.setIrqs(req(MSI, "trigger", 0, 1, ev(fds(1)))), { code: "EINVAL" });
    assert.equal(c.mode, "none");
  });

  it("enables MSI-X by assigning eventfds and delivers per vector", () => {
    const { c, efds } = make();
    const f = fds(3);
    c.setIrqs(req(MSIX, "trigger", 2, 3, ev(f)));
    assert.equal(c.mode, "msix");
    assert.equal(c.trigger(3), "delivered");
    assert.equal(efds.n(f[1]!).signals, 1);
    assert.equal(c.trigger(0), "dropped");
    assert.throws(() => c.trigger(8), { code: "EINVAL" });
  });

  it("adds MSI-X vectors dynamically and replaces eventfds, closing the old ones", () => {
    const { c, efds } = make();
    const [a, b] = fds(2);
    c.setIrqs(req(MSIX, "trigger", 0, 1, ev([a!])));
    c.setIrqs(req(MSIX, "trigger", 5, 1, ev([b!])));
    assert.equal(c.trigger(5), "delivered");
    const [a2] = fds(1);
    c.setIrqs(req(MSIX, "trigger", 0, 1, ev([a2!])));
    assert.equal(efds.n(a!).closed, true);
    c.setIrqs(req(MSIX, "trigger", 5, 1, ev([]))); // QEMU's "-1" chunk
    assert.equal(efds.n(b!).closed, true);
    assert.equal(c.trigger(5), "dropped");
    assert.equal(c.mode, "msix");
  });

  it("count 0 with DATA_NONE|TRIGGER disables and closes every eventfd", () => {
    const { c, efds } = make();
    c.setIrqs(req(MSIX, "trigger", 0, 4, ev(fds(4))));
    c.setIrqs(req(MSIX, "trigger", 0, 0, none));
    assert.equal(c.mode, "none");
    assert.equal(efds.open(), 0);
    c.setIrqs(req(MSI, "trigger", 0, 0, none)); // disabling what is off is a no-op
    assert.equal(c.mode, "none");
  });

  it("keeps MSI, MSI-X and INTx mutually exclusive", () => {
    const { c } = make();
    c.setIrqs(req(MSI, "trigger", 0, 2, ev(fds(2))));
    assert.throws(() => c.setIrqs(req(MSIX, "trigger", 0, 1, ev(fds(1)))), { code: "EINVAL" });
    assert.throws(() => c.setIrqs(req(INTX, "trigger", 0, 1, ev(fds(1)))), { code: "EINVAL" });
    c.setIrqs(req(MSI, "trigger", 0, 0, none));
    c.setIrqs(req(INTX, "trigger", 0, 1, ev(fds(1))));
    assert.equal(c.mode, "intx");
    assert.throws(() => c.setIrqs(req(MSI, "trigger", 0, 1, ev(fds(1)))), { code: "EINVAL" });
  });

  it("grows MSI in chunks as QEMU sends them (max_msg_fds per message)", () => {
    const { c, efds } = make();
    const a = fds(2);
    const b = fds(2);
    c.setIrqs(req(MSI, "trigger", 0, 2, ev(a)));
    assert.equal(c.trigger(2), "dropped");
    c.setIrqs(req(MSI, "trigger", 2, 2, ev(b)));
    assert.equal(c.trigger(3), "delivered");
    assert.equal(efds.n(b[1]!).signals, 1);
    assert.throws(() => c.trigger(4), { code: "EINVAL" });
  });

  it("INTx: automask, unmask via SET_IRQS, status bit follows", () => {
    const { c, efds, status } = make();
    const [f] = fds(1);
    c.setIrqs(req(INTX, "trigger", 0, 1, ev([f!])));
    assert.equal(c.trigger(), "delivered");
    assert.equal(c.trigger(), "pending");
    assert.equal(efds.n(f!).signals, 1);
    c.setIrqs(req(INTX, "unmask", 0, 1, none));
    assert.equal(efds.n(f!).signals, 2);
    c.setIrqs(req(INTX, "unmask", 0, 1, bool(0)));
    assert.equal(c.intx.masked, true, "bool false does nothing");
    c.setIrqs(req(INTX, "unmask", 0, 1, bool(1)));
    assert.equal(c.intx.masked, false);
    c.setIrqs(req(INTX, "mask", 0, 1, none));
    assert.equal(c.trigger(), "pending");
    assert.deepEqual(status, [true, false, true]);
  });

  it("INTx unmask eventfd unmasks when the client signals it", () => {
    const { c, efds } = make();
    const [f, u] = fds(2);
    c.setIrqs(req(INTX, "trigger", 0, 1, ev([f!])));
    c.setIrqs(req(INTX, "unmask", 0, 1, ev([u!])));
    c.trigger();
    assert.equal(c.intx.masked, true);
    efds.triggers.get(u!)!.fire();
    assert.equal(c.intx.masked, false);
    assert.throws(() => c.setIrqs(req(INTX, "mask", 0, 1, ev(fds(1)))), { code: "EOPNOTSUPP" });
    c.setIrqs(req(INTX, "trigger", 0, 0, none));
    assert.equal(efds.open(), 0);
  });

  it("INTx mask/unmask/loopback need INTx enabled", () => {
    const { c } = make();
    assert.throws(() => c.setIrqs(req(INTX, "unmask", 0, 1, none)), { code: "EINVAL" });
    assert.throws(() => c.setIrqs(req(INTX, "trigger", 0, 1, none)), { code: "EINVAL" });
  });

  it("loopback TRIGGER with NONE/BOOL signals the client's own eventfds", () => {
    const { c, efds } = make();
    const f = fds(3);
    c.setIrqs(req(MSIX, "trigger", 0, 3, ev(f)));
    c.setIrqs(req(MSIX, "trigger", 0, 3, bool(1, 0, 1)));
    assert.deepEqual(
      f.map((x) => efds.n(x).signals),
      [1, 0, 1],
    );
    c.setIrqs(req(MSIX, "trigger", 1, 1, none));
    assert.equal(efds.n(f[1]!).signals, 1);
  });

  it("MSI-X client masks hold pending bits and unmask delivers them", () => {
    const { c, efds, table } = make();
    const f = fds(2);
    c.setIrqs(req(MSIX, "trigger", 0, 2, ev(f)));
    c.setIrqs(req(MSIX, "mask", 0, 2, bool(0, 1)));
    assert.equal(c.trigger(1), "pending");
    assert.equal(table!.isPending(1), true);
    assert.equal(c.trigger(0), "delivered");
    c.setIrqs(req(MSIX, "unmask", 1, 1, none));
    assert.equal(efds.n(f[1]!).signals, 1);
    assert.equal(table!.isPending(1), false);
  });

  it("MSI-X table mask bits count once the client writes the table", () => {
    const { c, efds, table } = make();
    const f = fds(1);
    c.setIrqs(req(MSIX, "trigger", 0, 1, ev(f)));
    assert.equal(c.trigger(0), "delivered", "an untouched table (QEMU) does not mask");
    const r = table!.writeTable(12, new Uint8Array([1, 0, 0, 0]));
    c.msixTableWritten(r);
    assert.equal(c.trigger(0), "pending");
    assert.deepEqual([...table!.readPba(0, 1)], [1]);
    c.msixTableWritten(table!.writeTable(12, new Uint8Array([0, 0, 0, 0])));
    assert.equal(efds.n(f[0]!).signals, 2);
    assert.deepEqual([...table!.readPba(0, 1)], [0]);
  });

  it("MSI-X function mask holds every vector", () => {
    const { c, efds } = make();
    const f = fds(2);
    c.setIrqs(req(MSIX, "trigger", 0, 2, ev(f)));
    c.setMsixFunctionMask(true);
    assert.equal(c.trigger(0), "pending");
    assert.equal(c.trigger(1), "pending");
    c.setMsixFunctionMask(false);
    assert.deepEqual(
      f.map((x) => efds.n(x).signals),
      [1, 1],
    );
  });

  it("ERR and REQ accept only TRIGGER and signal their eventfd", () => {
    const { c, efds } = make();
    assert.equal(c.raiseErr(), "dropped");
    const [e, r] = fds(2);
    c.setIrqs(req(ERR, "trigger", 0, 1, ev([e!])));
    c.setIrqs(req(REQ, "trigger", 0, 1, ev([r!])));
    assert.equal(c.raiseErr(), "delivered");
    assert.equal(c.raiseReq(), "delivered");
    assert.throws(() => c.setIrqs(req(ERR, "mask", 0, 1, none)), { code: "EINVAL" });
    c.setIrqs(req(REQ, "trigger", 0, 1, none));
    assert.equal(efds.n(r!).signals, 2);
    c.setIrqs(req(ERR, "trigger", 0, 0, none));
    assert.equal(efds.n(e!).closed, true);
    assert.equal(c.raiseErr(), "dropped");
  });

  it("detachClient closes every eventfd; resetDevice keeps ERR/REQ", () => {
    const { c, efds, table } = make();
    c.setIrqs(req(MSIX, "trigger", 0, 8, ev(fds(8))));
    c.setIrqs(req(ERR, "trigger", 0, 1, ev(fds(1))));
    table!.setPending(3, true);
    c.resetDevice();
    assert.equal(c.mode, "none");
    assert.equal(efds.open(), 1);
    assert.equal(table!.isPending(3), false);
    assert.equal(table!.isMasked(3), true);
    c.detachClient();
    assert.equal(efds.open(), 0);
  });

  it("never leaks or double-owns eventfds under random requests (property)", () => {
    const action = fc.constantFrom<IrqAction>("mask", "unmask", "trigger");
    const reqArb = fc.record({
      index: fc.integer({ min: 0, max: 5 }),
      action,
      start: fc.integer({ min: 0, max: 9 }),
      count: fc.integer({ min: 0, max: 9 }),
      kind: fc.constantFrom("none", "bool", "eventfd", "eventfd-empty"),
    });
    fc.assert(
      fc.property(
        fc.array(reqArb, { maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 9 })),
        (reqs, triggers) => {
          const { c, efds } = make();
          const handedOver = new Set<number>();
          let kept = 0;
          for (const r of reqs) {
            const data: IrqSetData =
              r.kind === "none"
                ? none
                : r.kind === "bool"
                  ? { kind: "bool", values: new Uint8Array(r.count).fill(1) }
                  : ev(r.kind === "eventfd" ? fds(r.count) : []);
            try {
              c.setIrqs(req(r.index, r.action, r.start, r.count, data));
              if (data.kind === "eventfd") for (const f of data.fds) handedOver.add(f);
            } catch (e) {
              assert.ok((e as { errno?: number }).errno! > 0);
              if (data.kind === "eventfd") {
                for (const f of data.fds)
                  assert.equal(efds.notifiers.has(f) || efds.triggers.has(f), false);
              }
            }
            for (const v of triggers) {
              try {
                c.trigger(v);
              } catch {
                kept++;
              }
            }
          }
          for (const f of efds.notifiers.keys()) assert.ok(handedOver.has(f));
          c.detachClient();
          assert.equal(efds.open(), 0);
          assert.ok(kept >= 0);
        },
      ),
    );
  });
});
