/**
 * Failures a driver author sees, in one sentence with their cause: an access the peer
 * refuses because memory decoding is off says so (the client knows it), and a VfioError
 * a script prints (console.error) shows its causes on one line, not as nested [cause]
 * dumps. (Node prints an uncaught error with custom inspection off: that path keeps
 * Node's own format.)
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { openLoopback } from "../../src/client/index.js";
import { createDevice } from "../../src/server/index.js";

const ERRORS_JS = fileURLToPath(new URL("../../src/errors.js", import.meta.url));

describe("errors carry the cause the driver side knows", () => {
  it("a BAR read while memory decoding is off names that, not just EIO", async () => {
    const device = createDevice({
      name: "plain",
      vendorId: 0x1b36,
      deviceId: 0x0001,
      classCode: 0xff0000,
      bars: [{ kind: "mem32", size: 4096, read: () => 7 }],
    });
    const dev = await openLoopback(device);
    try {
      assert.equal(await dev.read32(0, 0), 7, "decoding is on from the start");
      await dev.config.enableMemory(false);
      await assert.rejects(dev.read32(0, 0), (err: Error) => {
        assert.match(
          err.message,
          /^loopback plain: read of BAR0 at 0x0 failed \(EIO\): memory decoding is disabled \(PCI_COMMAND_MEMORY is clear\)$/,
        );
        assert.match(
          String((err.cause as Error).message),
          /REGION_READ .* failed on the peer: EIO/,
        );
        return true;
      });
    } finally {
      await dev.close();
      device.close();
    }
  });

  it("a VfioError printed by a script shows one line with its causes, then the frames", () => {
    const script = `
      import { VfioError } from ${JSON.stringify(ERRORS_JS)};
      const inner = new Error("connect ENOENT /tmp/x.sock");
      console.error(new VfioError("ENOENT", "cannot reach the device", { cause: new VfioError("ENOENT", "no server", { cause: inner }) }));
      process.exitCode = 1;
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    assert.equal(r.status, 1);
    assert.doesNotMatch(r.stderr, /\[cause\]/);
    assert.match(
      r.stderr,
      /^VfioError \[ENOENT\]: cannot reach the device \(because: no server \(because: connect ENOENT \/tmp\/x\.sock\)\)\n\s+at /,
    );
  });
});
