import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { Command } from "../../src/protocol/index.js";
import {
  createDevice,
  type Logger,
  rateLimitedLogger,
  VfioUserServer,
} from "../../src/server/index.js";
import { socketPair } from "../../src/sys/index.js";
import { RawClient } from "./raw-client.js";

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
    debug: (m) => lines.push(`debug ${m}`),
  };
}

describe("rateLimitedLogger", () => {
  it("lets a burst per level and interval through, then says how many it dropped", () => {
    let t = 1000;
    const rec = recorder();
    const log = rateLimitedLogger(rec, { burst: 3, intervalMs: 100 }, () => t);
    for (let i = 0; i < 10; i++) log.warn(`w${i}`);
    log.info("i0"); // levels are limited apart
    for (let i = 0; i < 50; i++) log.debug(`d${i}`); // never limited
    assert.deepEqual(rec.lines.slice(0, 4), ["warn w0", "warn w1", "warn w2", "info i0"]);
    assert.equal(rec.lines.length, 4 + 50);
    t += 99;
    log.warn("still inside the interval");
    assert.equal(rec.lines.length, 54);
    t += 1;
    log.warn("next interval");
    assert.deepEqual(rec.lines.slice(54), [
      "warn (8 warn messages suppressed by the rate limit)",
      "warn next interval",
    ]);
    assert.throws(() => rateLimitedLogger(rec, { burst: 0 }), RangeError);
    assert.throws(() => rateLimitedLogger(rec, { intervalMs: 1.5 }), RangeError);
  });
});

describe("server log under a flood of failing posted writes", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function flood(logRateLimit?: false): Promise<string[]> {
    const rec = recorder();
    const device = createDevice({
      name: "quiet",
      vendorId: 0x1b36,
      deviceId: 0x7003,
      classCode: 0xff0000,
      bars: [{ kind: "mem32", size: 4096 }],
    });
    const server = new VfioUserServer(device, {
      logger: rec,
      ...(logRateLimit === false ? { logRateLimit } : {}),
    });
    const [a, b] = socketPair();
    server.serve(a);
    const c = await RawClient.over(b);
    cleanups.push(async () => {
      c.close();
      await server.close();
      device.close();
    });
    // Each is refused (region 5 does not exist) and, having no reply, is logged.
    for (let i = 0; i < 500; i++) {
      c.post(Command.VFIO_USER_REGION_WRITE, {
        region: 5,
        offset: 0n,
        data: Uint8Array.of(1, 2, 3, 4),
      });
    }
    assert.equal((await c.regionRead(7, 0, 2)).byteLength, 2); // all 500 handled by now
    return rec.lines.filter((l) => l.startsWith("warn") && l.includes("no reply requested"));
  }

  it("logs at most the burst by default, everything with logRateLimit: false", async () => {
    // 20 in each 5 s interval: one interval, unless the machine took 5 s for 500 writes.
    const limited = (await flood()).length;
    assert.ok(limited >= 20 && limited <= 40, `${limited} warnings logged`);
    assert.equal((await flood(false)).length, 500);
  });
});
