import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { VfioUserClient } from "../../src/client/index.js";
import { VfioError } from "../../src/errors.js";
import { SERVE_EDU_ENTRY } from "../../src/harness/edu-demo.js";
import { ServerProcess } from "../../src/harness/server-process.js";

describe("ServerProcess", () => {
  it("starts serve-edu, hands over a connected socket, and removes socket and temp dir on stop", async () => {
    const { server, socket } = await ServerProcess.start({ entry: SERVE_EDU_ENTRY });
    const client = await VfioUserClient.fromSocket(socket);
    assert.equal(await client.device.config.read16(0), 0x1234);
    await client.close();
    // The server takes the next client once the first has left.
    const again = await VfioUserClient.fromSocket(await server.connect());
    assert.equal(await again.device.config.read16(2), 0x11e8);
    await again.close();
    assert.equal(existsSync(server.path), true);
    await server.stop();
    assert.equal(server.exited, true);
    assert.equal(existsSync(server.path), false);
    assert.equal(existsSync(dirname(server.path)), false, "its temp dir is gone");
    await server.stop(); // idempotent
  });

  it("reports a server that dies during startup with its stderr, quickly", async () => {
    const dir = mkdtempSync(join(tmpdir(), "server-process-test-"));
    try {
      const entry = join(dir, "bad.mjs");
      writeFileSync(
        entry,
        "process.stderr.write('cannot start: no device\\n'); process.exit(3);\n",
      );
      const t0 = Date.now();
      await assert.rejects(ServerProcess.start({ entry, startTimeoutMs: 8000 }), (e: unknown) => {
        assert.ok(e instanceof VfioError);
        assert.match(e.message, /exited \(3\)/);
        assert.match(e.message, /cannot start: no device/);
        return true;
      });
      assert.ok(Date.now() - t0 < 5000, "did not wait for the whole start timeout");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
