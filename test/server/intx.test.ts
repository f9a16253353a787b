import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IntxLine } from "../../src/server/irqs/intx.js";
import { FakeNotifier } from "./fake-eventfds.js";

function line() {
  const status: boolean[] = [];
  const l = new IntxLine((a) => status.push(a));
  const n = new FakeNotifier(3);
  return { l, n, status };
}

describe("IntxLine", () => {
  it("drops pulses while INTx is not enabled", () => {
    const { l } = line();
    assert.equal(l.pulse(), "dropped");
    assert.equal(l.asserted, false);
  });

  it("automasks on delivery and re-delivers nothing until unmask", () => {
    const { l, n, status } = line();
    l.enable(n);
    assert.equal(l.pulse(), "delivered");
    assert.equal(n.signals, 1);
    assert.equal(l.masked, true);
    assert.equal(l.asserted, true);
    assert.equal(l.pulse(), "pending");
    assert.equal(n.signals, 1);
    l.unmask(); // EOI of the first pulse delivers the second
    assert.equal(n.signals, 2);
    assert.equal(l.masked, true);
    l.unmask();
    assert.equal(n.signals, 2);
    assert.equal(l.asserted, false);
    assert.equal(l.masked, false);
    assert.deepEqual(status, [true, false]);
  });

  it("a level line is re-signalled at every unmask while asserted", () => {
    const { l, n } = line();
    l.enable(n);
    assert.equal(l.setLevel(true), "delivered");
    l.unmask();
    l.unmask();
    assert.equal(n.signals, 3);
    l.setLevel(false);
    l.unmask();
    assert.equal(n.signals, 3);
    assert.equal(l.asserted, false);
  });

  it("a client mask holds the interrupt until unmask", () => {
    const { l, n } = line();
    l.enable(n);
    l.mask();
    assert.equal(l.pulse(), "pending");
    assert.equal(n.signals, 0);
    assert.equal(l.asserted, true);
    l.unmask();
    assert.equal(n.signals, 1);
  });

  it("INTX_DISABLE suppresses delivery and releases it when cleared", () => {
    const { l, n } = line();
    l.enable(n);
    l.setCommandDisabled(true);
    assert.equal(l.setLevel(true), "pending");
    assert.equal(n.signals, 0);
    assert.equal(l.asserted, true, "status bit shows the line even when disabled");
    l.setCommandDisabled(false);
    assert.equal(n.signals, 1);
  });

  it("waits for an eventfd before delivering", () => {
    const { l, n } = line();
    l.enable(null);
    assert.equal(l.pulse(), "pending");
    l.setNotifier(n);
    assert.equal(n.signals, 1);
  });

  it("disable closes the eventfd; swapping closes the old one", () => {
    const { l, n } = line();
    const m = new FakeNotifier(4);
    l.enable(n);
    l.setNotifier(m);
    assert.equal(n.closed, true);
    l.disable();
    assert.equal(m.closed, true);
    assert.equal(l.enabled, false);
  });

  it("loopback signals without touching state, only when enabled", () => {
    const { l, n } = line();
    l.loopback();
    l.enable(n);
    l.loopback();
    assert.equal(n.signals, 1);
    assert.equal(l.masked, false);
  });

  it("resetLine deasserts everything", () => {
    const { l, n, status } = line();
    l.enable(n);
    l.setLevel(true);
    l.resetLine();
    assert.equal(l.asserted, false);
    assert.equal(l.masked, false);
    assert.deepEqual(status, [true, false]);
  });
});
