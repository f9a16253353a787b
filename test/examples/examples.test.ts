// The examples beside the counter, each served by the CLI in one process and driven by its
// driver script from another, as the README's examples section runs them.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DIST, serveExample } from "./serve-example.js";

const example = (name: string) => join(DIST, "examples", name);

/** Serves `device`, runs `driver` against it, stops the server cleanly; returns stdout. */
async function serveAndDrive(device: string, driver: string): Promise<string> {
  const served = await serveExample(example(device));
  try {
    return await served.drive(example(driver));
  } finally {
    assert.deepEqual(await served.stop(), { code: 0, socketRemoved: true }, served.log());
  }
}

const CASES = [
  {
    device: "intx-device.js",
    driver: "intx-driver.js",
    what: "delivers INTx, holds it while INTx is disabled, re-signals an unacknowledged line",
    out: [
      "interrupt, cause 0x1",
      "INTx disabled: line asserted, delivered false",
      "INTx enabled again: interrupt, cause 0x2",
      "unmasked without acknowledging: interrupt, cause 0x4",
    ],
  },
  {
    device: "gather-device.js",
    driver: "gather-run.js",
    what: "gathers three buffers on each completion vector; a bad descriptor faults on vector 3",
    out: [
      "vector 0: gathered 14 bytes: scatter/gather",
      "vector 1: gathered 14 bytes: scatter/gather",
      "vector 2: gathered 14 bytes: scatter/gather",
      "unmapped descriptor: EFAULT from the error vector",
    ],
  },
];

for (const c of CASES) {
  describe(`examples/${c.device} driven by examples/${c.driver}`, () => {
    it(c.what, async () => {
      assert.equal(await serveAndDrive(c.device, c.driver), `${c.out.join("\n")}\n`);
    });
  });
}
