/**
 * The queue pair against a simulated controller that works on the same memory: it
 * fetches entries up to the tail doorbell, and posts completions (in any order, with
 * any status) with the phase tag, as a controller does.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { QueuePair } from "../../../src/drivers/nvme/queue-pair.js";
import { type DecodedSqe, decodeSqe } from "../../../src/drivers/nvme/sqe.js";
import { NvmeError } from "../../../src/drivers/nvme/status.js";
import { VfioError } from "../../../src/errors.js";

class SimController {
  readonly sq: Uint8Array;
  readonly cq: Uint8Array;
  readonly entries: number;
  sqHead = 0;
  sqTail = 0;
  cqTail = 0;
  phase = 1;
  cqHeadDoorbell = 0;
  /** Fetched and not completed. */
  readonly inFlight: DecodedSqe[] = [];

  constructor(entries: number) {
    this.entries = entries;
    this.sq = new Uint8Array(entries * 64);
    this.cq = new Uint8Array(entries * 16);
  }

  doorbells() {
    return {
      sqTail: async (v: number) => {
        this.sqTail = v;
      },
      cqHead: async (v: number) => {
        this.cqHeadDoorbell = v;
      },
    };
  }

  fetch(): void {
    while (this.sqHead !== this.sqTail) {
      this.inFlight.push(decodeSqe(this.sq, this.sqHead * 64));
      this.sqHead = (this.sqHead + 1) % this.entries;
    }
  }

  /** Completes the in-flight command at `index` with `status` and `result`. */
  complete(index: number, status = 0, result = 0, sqid = 1): DecodedSqe {
    const [cmd] = this.inFlight.splice(index, 1);
    const v = new DataView(this.cq.buffer, this.cqTail * 16, 16);
    v.setUint32(0, result, true);
    v.setUint32(8, ((sqid << 16) | this.sqHead) >>> 0, true);
    v.setUint32(12, ((status << 17) | (this.phase << 16) | cmd!.cid) >>> 0, true);
    this.cqTail++;
    if (this.cqTail === this.entries) {
      this.cqTail = 0;
      this.phase ^= 1;
    }
    return cmd!;
  }
}

function pair(sim: SimController): QueuePair {
  return new QueuePair({
    qid: 1,
    entries: sim.entries,
    sqMemory: sim.sq,
    cqMemory: sim.cq,
    doorbells: sim.doorbells(),
  });
}

const tick = () => new Promise((r) => setImmediate(r));

describe("NVMe queue pair against a simulated controller", () => {
  it("settles each command by its CID, whatever order completions come in (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 8 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        async (entries, picks) => {
          const sim = new SimController(entries);
          const qp = pair(sim);
          const results = new Map<number, number>();
          const all: Promise<void>[] = [];
          for (let i = 0; i < picks.length; i++) {
            all.push(
              qp.submit({ opcode: 2, nsid: i }, `cmd ${i}`).then((c) => {
                results.set(i, c.result);
              }),
            );
          }
          await tick();
          for (const pick of picks) {
            sim.fetch();
            while (sim.inFlight.length === 0) {
              await tick();
              sim.fetch();
            }
            const cmd = sim.complete(
              pick % sim.inFlight.length,
              0,
              sim.inFlight[pick % sim.inFlight.length]!.nsid + 1000,
            );
            assert.ok(cmd);
            qp.reap();
            await tick();
          }
          await Promise.all(all);
          for (let i = 0; i < picks.length; i++)
            assert.equal(results.get(i), i + 1000, `command ${i}`);
          assert.equal(qp.outstanding, 0);
          assert.equal(
            sim.cqHeadDoorbell,
            sim.cqTail,
            "the head doorbell acknowledged every entry",
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it("never has more than entries - 1 commands in the ring; the rest wait for completions", async () => {
    const sim = new SimController(4);
    const qp = pair(sim);
    const done = [0, 1, 2, 3, 4, 5].map((i) => qp.submit({ opcode: 1, nsid: i }, `w${i}`));
    await tick();
    sim.fetch();
    assert.equal(sim.inFlight.length, 3);
    assert.equal(qp.outstanding, 3);
    sim.complete(0);
    qp.reap();
    await tick();
    sim.fetch();
    assert.equal(sim.inFlight.length, 3, "one more went in once one completed");
    while (sim.inFlight.length > 0 || qp.outstanding > 0) {
      if (sim.inFlight.length > 0) sim.complete(0);
      qp.reap();
      await tick();
      sim.fetch();
    }
    await Promise.all(done);
  });

  it("turns an error status into an NvmeError and ignores completions for no command", async () => {
    const sim = new SimController(8);
    const qp = pair(sim);
    const p = qp.submit({ opcode: 2, nsid: 1 }, "Read");
    await tick();
    sim.fetch();
    sim.complete(0, (1 << 14) | 0x80);
    // A completion for a CID nobody submitted (a confused or hostile controller).
    sim.inFlight.push({ ...decodeSqe(sim.sq, 0), cid: 5 });
    sim.complete(0);
    qp.reap();
    await assert.rejects(p, (e: unknown) => e instanceof NvmeError && e.sc === 0x80 && e.dnr);
    assert.equal(qp.staleCompletions, 1);
    assert.equal(qp.outstanding, 0);
  });

  it("times a command out but keeps its CID until the controller completes it", async () => {
    const sim = new SimController(8);
    const qp = pair(sim);
    const p = qp.submit({ opcode: 0 }, "Flush", 1);
    await assert.rejects(p, (e: unknown) => e instanceof VfioError && e.code === "ETIMEDOUT");
    assert.equal(qp.outstanding, 1, "the CID stays taken");
    sim.fetch();
    const late = sim.complete(0);
    const next = qp.submit({ opcode: 0 }, "Flush");
    await tick();
    sim.fetch();
    assert.notEqual(
      sim.inFlight[0]!.cid,
      late.cid,
      "a new command never reuses a CID still in flight",
    );
    qp.reap();
    assert.equal(qp.outstanding, 1);
    sim.complete(0);
    qp.reap();
    await next;
  });

  it("fails every outstanding and later command once failed", async () => {
    const sim = new SimController(8);
    const qp = pair(sim);
    const p = qp.submit({ opcode: 2 }, "Read");
    qp.fail(new VfioError("ECANCELED", "gone"));
    await assert.rejects(p, /gone/);
    await assert.rejects(qp.submit({ opcode: 2 }, "Read"), /gone/);
  });
});
