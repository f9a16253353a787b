import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  builtinDeviceNames,
  builtinDevices,
  createBuiltinDevice,
  EduDevice,
  findBuiltinDevice,
  PciIdio16,
} from "../../src/devices/index.js";
import { VfioError } from "../../src/errors.js";
import { fakeHost } from "./fake-host.js";

describe("devices: registry", () => {
  it("lists edu and gpio with descriptions", () => {
    assert.deepEqual(builtinDeviceNames(), ["edu", "gpio"]);
    for (const d of builtinDevices) assert.ok(d.description.length > 10, d.name);
    assert.equal(findBuiltinDevice("gpio")?.name, "gpio");
    assert.equal(findBuiltinDevice("nvme"), undefined);
  });

  it("creates a fresh definition and control object each time", () => {
    const a = createBuiltinDevice("edu");
    const b = createBuiltinDevice("edu");
    assert.ok(a.control instanceof EduDevice);
    assert.notEqual(a.control, b.control);
    assert.notEqual(a.definition, b.definition);
    assert.equal(a.definition, a.control.definition);
    assert.equal(a.definition.vendorId, 0x1234);
    const g = createBuiltinDevice("gpio");
    assert.ok(g.control instanceof PciIdio16);
    assert.equal(g.definition.deviceId, 0x0dc8);
  });

  it("passes options and binds the control object to a host", () => {
    const g = createBuiltinDevice("gpio", { inputs: 0x00ff });
    assert.equal(g.control.inputs, 0x00ff);
    const host = fakeHost();
    g.bind(host);
    g.control.read(2, 1); // enable the change-of-state interrupt
    g.control.setInput(0, false);
    assert.equal(host.irq.level, true, "the bound host sees the interrupt");
    const e = createBuiltinDevice("edu", { dmaMask: 0xffffn });
    assert.equal(e.control.dmaMask, 0xffffn);
  });

  it("rejects unknown names with ENOENT naming the known ones", () => {
    assert.throws(
      () => createBuiltinDevice("nope"),
      (e: unknown) => e instanceof VfioError && e.code === "ENOENT" && /edu, gpio/.test(e.message),
    );
  });
});
