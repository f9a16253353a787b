import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  builtinDeviceNames,
  builtinDevices,
  EduDevice,
  findBuiltinDevice,
  instantiateBuiltinDevice,
  PciIdio16,
} from "../../src/devices/index.js";
import { VfioError } from "../../src/errors.js";

describe("devices: registry", () => {
  it("lists edu, gpio and nvme with descriptions", () => {
    assert.deepEqual(builtinDeviceNames(), ["edu", "gpio", "nvme"]);
    for (const d of builtinDevices) assert.ok(d.description.length > 10, d.name);
    assert.equal(findBuiltinDevice("gpio")?.name, "gpio");
    assert.equal(findBuiltinDevice("virtio"), undefined);
  });

  it("creates a fresh device and control object each time, ready without a bind step", () => {
    const a = instantiateBuiltinDevice("edu");
    const b = instantiateBuiltinDevice("edu");
    assert.ok(a.control instanceof EduDevice);
    assert.notEqual(a.control, b.control);
    assert.notEqual(a.device, b.device);
    assert.equal(a.device.name, "edu");
    assert.equal(a.device.config.read(0, 2), 0x1234);
    const g = instantiateBuiltinDevice("gpio");
    assert.ok(g.control instanceof PciIdio16);
    assert.equal(g.device, g.control.device);
    assert.equal(g.device.config.read(2, 2), 0x0dc8);
    for (const d of [a, b, g]) d.device.close();
  });

  it("passes options; host-side input changes reach the device's own INTx line", () => {
    const g = instantiateBuiltinDevice("gpio", { inputs: 0x00ff });
    assert.equal(g.control.inputs, 0x00ff);
    g.control.read(2, 1, g.device); // enable the change-of-state interrupt
    g.control.setInput(0, false);
    assert.equal(g.device.irq.intx.asserted, true);
    const e = instantiateBuiltinDevice("edu", { dmaMask: 0xffffn });
    assert.equal(e.control.dmaMask, 0xffffn);
    g.device.close();
    e.device.close();
  });

  it("rejects unknown names with ENOENT naming the known ones", () => {
    assert.throws(
      () => instantiateBuiltinDevice("nope"),
      (e: unknown) => e instanceof VfioError && e.code === "ENOENT" && /edu, gpio/.test(e.message),
    );
  });
});
