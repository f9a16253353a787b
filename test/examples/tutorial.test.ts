// The README tutorial, run as a user would: the CLI serves examples/counter-device.js in
// one process, examples/counter-driver.js drives it from another, lspci inspects it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { CLI, DIST, type ServedExample, serveExample } from "./serve-example.js";

const run = promisify(execFile);

describe("README tutorial", () => {
  let served: ServedExample;

  before(async () => {
    served = await serveExample(join(DIST, "examples", "counter-device.js"));
  });

  after(() => served.stop());

  it("the driver reads the id, gets the MSI-X interrupt and the DMA sum", async () => {
    const stdout = await served.drive(join(DIST, "examples", "counter-driver.js"));
    assert.match(stdout, /^id register: 0xc0ffee$/m);
    assert.match(stdout, /^count after adding 5: 5 \(interrupt received\)$/m);
    assert.match(stdout, /^sum computed by the device over DMA: 36$/m);
  });

  it("lspci shows the declared identity, BAR and MSI-X capability", async () => {
    const { stdout } = await run(
      process.execPath,
      [CLI, "lspci", "--socket", served.socket, "-v"],
      { timeout: 20_000 },
    );
    assert.match(stdout, /Device 0042/);
    assert.match(stdout, /^\tMemory at .* \(32-bit, non-prefetchable\) \[size=4K\]$/m);
    assert.match(stdout, /Capabilities: \[[0-9a-f]+\] MSI-X: Enable- Count=2 Masked-/);
  });

  it("SIGTERM stops the server and removes its socket", async () => {
    assert.deepEqual(await served.stop(), { code: 0, socketRemoved: true });
    assert.match(served.log(), /connected/);
  });
});
