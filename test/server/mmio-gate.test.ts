import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkDecode, decodeEnabled } from "../../src/server/mmio-gate.js";

const on = (command: number) => ({ command, d3hot: false });

describe("MMIO gate", () => {
  it("memory space follows PCI_COMMAND_MEMORY only", () => {
    assert.equal(decodeEnabled(on(0x0), "memory"), false);
    assert.equal(decodeEnabled(on(0x1), "memory"), false);
    assert.equal(decodeEnabled(on(0x2), "memory"), true);
    assert.equal(decodeEnabled(on(0x406), "memory"), true);
  });
  it("I/O space follows PCI_COMMAND_IO only", () => {
    assert.equal(decodeEnabled(on(0x2), "io"), false);
    assert.equal(decodeEnabled(on(0x1), "io"), true);
  });
  it("D3hot blocks both spaces whatever the command register says", () => {
    assert.equal(decodeEnabled({ command: 3, d3hot: true }, "memory"), false);
    assert.equal(decodeEnabled({ command: 3, d3hot: true }, "io"), false);
    assert.throws(() => checkDecode({ command: 3, d3hot: true }, "memory", "x"), /D3hot/);
  });
  it("config, device regions and the MSI-X structures are always decoded", () => {
    assert.equal(decodeEnabled(on(0), "always"), true);
    assert.equal(decodeEnabled({ command: 0, d3hot: true }, "always"), true);
  });
  it("checkDecode throws EIO naming the bit", () => {
    assert.throws(
      () => checkDecode(on(0), "memory", "BAR0 read"),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, "EIO");
        assert.match(e.message, /PCI_COMMAND_MEMORY/);
        return true;
      },
    );
    assert.throws(() => checkDecode(on(2), "io", "BAR1 write"), /PCI_COMMAND_IO/);
    checkDecode(on(3), "io", "ok");
  });
});
