/**
 * The model's PRP walk (src/devices/nvme/prp.ts): whatever pages a host describes
 * (PRP1 at any dword offset, PRP2, lists chained across list pages), the controller
 * must find the same bytes, and entries that break the alignment rules must end the
 * command with Invalid PRP Offset. A hostile list cannot make the walk loop.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { prpSegments } from "../../../src/devices/nvme/prp.js";
import { CommandStatus, Status } from "../../../src/devices/nvme/status.js";

const PAGE = 4096;

/** Host memory: page-granular, each page anywhere; list pages read from a map. */
function host(lists: Map<bigint, bigint[]>) {
  return async (iova: bigint, bytes: number) => {
    const base = iova - (iova % BigInt(PAGE));
    const entries = lists.get(base);
    if (entries === undefined) throw new Error(`no list page at 0x${base.toString(16)}`);
    const out = new Uint8Array(bytes);
    const v = new DataView(out.buffer);
    const first = Number(iova - base) / 8;
    for (let i = 0; i < bytes / 8; i++) v.setBigUint64(i * 8, entries[first + i] ?? 0n, true);
    return out;
  };
}

describe("NVMe model: PRP walking", () => {
  it("finds exactly the bytes of the pages described, contiguous ones merged (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: PAGE / 4 - 1 }).map((d) => d * 4),
        fc.integer({ min: 1, max: 600 * PAGE }),
        fc.boolean(),
        async (offset, length, contiguous) => {
          const count = Math.ceil((offset + length) / PAGE);
          const pages = Array.from({ length: count }, (_, i) =>
            BigInt((contiguous ? 0x100000 + i : 0x100000 + i * 3 + (i % 5)) * PAGE),
          );
          const lists = new Map<bigint, bigint[]>();
          const listBase = 0x9000_0000n;
          const prp1 = pages[0]! + BigInt(offset);
          let prp2 = 0n;
          if (count === 2) prp2 = pages[1]!;
          else if (count > 2) {
            prp2 = listBase;
            const rest = pages.slice(1);
            for (let at = listBase; rest.length > 0; at += BigInt(PAGE)) {
              const entries = rest.length <= 512 ? rest.splice(0) : rest.splice(0, 511);
              if (rest.length > 0) entries.push(at + BigInt(PAGE));
              lists.set(at, entries);
            }
          }
          const segs = await prpSegments(prp1, prp2, length, host(lists));
          // The bytes, page by page, as the segments cover them.
          const want: bigint[] = [];
          for (let b = 0; b < length; b += 512) {
            const abs = offset + b;
            want.push(pages[Math.floor(abs / PAGE)]! + BigInt(abs % PAGE));
          }
          const got: bigint[] = [];
          for (const s of segs)
            for (let b = 0; b < s.length; b += 512) got.push(s.iova + BigInt(b));
          if (offset % 512 === 0) assert.deepEqual(got, want);
          assert.equal(
            segs.reduce((n, s) => n + s.length, 0),
            length,
          );
          if (contiguous) assert.equal(segs.length, 1, "contiguous pages make one segment");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("ends the command with Invalid PRP Offset for misaligned entries", async () => {
    const invalid = (e: unknown) =>
      e instanceof CommandStatus && e.status === Status.INVALID_PRP_OFFSET;
    const none = host(new Map());
    await assert.rejects(prpSegments(0x1002n, 0n, 16, none), invalid, "PRP1 not dword aligned");
    await assert.rejects(prpSegments(0x1000n, 0x2010n, 8192, none), invalid, "PRP2 data page");
    await assert.rejects(prpSegments(0x1000n, 0x3004n, 3 * PAGE, none), invalid, "PRP2 list");
    const lists = new Map([[0x5000n, [0x6000n, 0x7100n]]]);
    await assert.rejects(prpSegments(0x1000n, 0x5000n, 3 * PAGE, host(lists)), invalid, "entry");
    // A list starting in its page's last slot chains at once; the chain must be page aligned.
    const chain = new Map([[0x5000n, [...new Array(511).fill(0n), 0x8008n]]]);
    await assert.rejects(
      prpSegments(0x1000n, 0x5ff8n, 3 * PAGE, host(chain)),
      invalid,
      "chained list",
    );
  });

  it("reads a hostile self-chaining list a bounded number of times", async () => {
    let reads = 0;
    const self = async (_iova: bigint, bytes: number) => {
      reads++;
      const out = new Uint8Array(bytes);
      const v = new DataView(out.buffer);
      for (let i = 0; i < bytes / 8; i++) v.setBigUint64(i * 8, 0x5000n, true);
      return out;
    };
    const segs = await prpSegments(0x1000n, 0x5000n, 1024 * PAGE, self);
    assert.equal(
      segs.reduce((n, s) => n + s.length, 0),
      1024 * PAGE,
    );
    assert.ok(reads <= 3, `${reads} list reads for 1023 entries`);
  });
});
