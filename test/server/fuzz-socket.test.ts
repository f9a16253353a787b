/**
 * Adversarial socket-level property test of VfioUserServer: random sequences of
 * well-formed-but-wrong, malformed and misdirected messages (with stray fds) go to the
 * test device in another process, and after every sequence the server must have
 * answered each command exactly once, in order, kept the connection, and released
 * every fd and mapping once the client left.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import {
  Command,
  HEADER_SIZE,
  VFIO_USER_F_ERROR,
  VFIO_USER_F_NO_REPLY,
  VFIO_USER_F_TYPE_MASK,
  VFIO_USER_F_TYPE_REPLY,
} from "../../src/protocol/index.js";
import { EventFd, MemFd } from "../../src/sys/index.js";
import {
  concat,
  type FdKind,
  type Msg,
  pack,
  type Sequence,
  sequence,
  text,
} from "./fuzz-messages.js";
import { type WireClient as Client, rawHeader, WireClient, type WireReply } from "./fuzz-wire.js";
import { type DeviceProcess, startDevice } from "./harness.js";

const C = Command;
const RAM_NAME = "fuzz-ram";
const RAM_SIZE = 0x10000;
/** Config space bytes 0-3 of the test device: vendor 0x1b36, device 0x10f0. */
const CONFIG_ID = [0x36, 0x1b, 0xf0, 0x10];

// ---- running a sequence against the server ----

interface Sent {
  id: number;
  command: number;
  expectsReply: boolean;
  /** Sent before VERSION: must fail. */
  early: boolean;
  what: string;
}

/** A hung server fails the test instead of hanging it (a liveness bound, not a timing check). */
async function guard<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`server hung: no ${what} within 5 s`)), 5000);
  });
  try {
    return await Promise.race([p, hung]);
  } finally {
    clearTimeout(timer);
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function describeMsg(m: Msg): string {
  const type = m.asReply ? "reply" : m.noReply ? "cmd+NO_REPLY" : "cmd";
  return `${type} command ${m.command} flags+0x${m.extraFlags.toString(16)} fds [${m.fds}] body ${hex(m.body)}`;
}

describe("server: socket fuzz (device in another process)", () => {
  let dev: DeviceProcess;
  const pool: Record<FdKind, number[]> = { eventfd: [], memfd: [] };
  const owned: { close(): void }[] = [];
  let baseline = 0;

  before(async () => {
    dev = await startDevice();
    for (let i = 0; i < 3; i++) {
      const e = EventFd.create();
      const m = MemFd.create(RAM_NAME, RAM_SIZE);
      owned.push(e, m);
      pool.eventfd.push(e.fd);
      pool.memfd.push(m.fd);
    }
    await warmUp();
    baseline = await dev.stableFds();
  });
  after(async () => {
    for (const o of owned) o.close();
    await dev.stop();
  });

  const mappings = () =>
    readFileSync(`/proc/${dev.pid}/maps`, "utf8")
      .split("\n")
      .filter((l) => l.includes(RAM_NAME)).length;

  /** Mappings of our memfds once they are gone (unmapping follows the socket's close). */
  async function settleMappings(): Promise<number> {
    for (let i = 0; i < 200 && mappings() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    return mappings();
  }

  const version = (c: Client, id: number) =>
    c.send(
      id,
      C.VFIO_USER_VERSION,
      0,
      pack("2 2", [0, 1], text.encode('{"capabilities":{"write_multiple":true}}\0')),
    );
  const probe = (c: Client, id: number) =>
    c.send(id, C.VFIO_USER_REGION_READ, 0, pack("8 4 4", [0n, 7, 4]));

  function assertProbe(r: WireReply | undefined, c: Client, why: string): void {
    assert.ok(
      r !== undefined,
      `${why}: connection closed instead of answering the probe (${c.endError?.message}); server stderr: ${dev.stderr()}`,
    );
    assert.equal(r.flags & VFIO_USER_F_ERROR, 0, `${why}: probe failed with errno ${r.error}`);
    assert.deepEqual([...r.body.subarray(16)], CONFIG_ID, `${why}: config space read`);
  }

  /** Lazily created descriptors exist before the baseline is taken. */
  async function warmUp(): Promise<void> {
    const c = new WireClient(dev.path);
    version(c, 1);
    for (let i = 0; i < 12; i++) {
      c.send(
        10 + i,
        C.VFIO_USER_DEVICE_GET_REGION_INFO,
        0,
        pack("4 4 4 4 8 8", [256, 0, i, 0, 0n, 0n]),
      );
      c.send(30 + i, C.VFIO_USER_DEVICE_GET_REGION_IO_FDS, 0, pack("4 4 4 4", [256, 0, i, 0]));
    }
    probe(c, 2);
    assertProbe(await c.reply(2), c, "warm-up");
    c.close();
  }

  async function run(seq: Sequence): Promise<void> {
    const c = new WireClient(dev.path);
    try {
      await exercise(c, seq);
    } finally {
      // A failed run must not leave the server busy for the runs that shrink it.
      if (!c.ended) {
        c.close();
        await dev.settleFds(baseline, 10_000);
      }
    }
  }

  async function exercise(c: Client, seq: Sequence): Promise<void> {
    const logged = dev.stderr().length;
    let id = seq.firstId;
    const nextId = () => {
      const v = id;
      id = (id + 1) & 0xffff;
      return v;
    };
    const sent: Sent[] = [];
    const versionId = nextId();
    if (!seq.preVersion) version(c, versionId);
    for (const m of seq.msgs) {
      const msgId = nextId();
      const flags = m.asReply
        ? VFIO_USER_F_TYPE_REPLY | (m.extraFlags & VFIO_USER_F_ERROR)
        : m.extraFlags | (m.noReply ? VFIO_USER_F_NO_REPLY : 0);
      const fds = m.fds.map((k, i) => pool[k][i]!);
      c.send(msgId, m.command, flags, m.body, fds, m.error);
      sent.push({
        id: msgId,
        command: m.command,
        expectsReply: !m.asReply && !m.noReply,
        early: seq.preVersion,
        what: describeMsg(m),
      });
    }
    if (seq.preVersion) version(c, versionId);
    const probeId = nextId();
    probe(c, probeId);
    const probed = await guard(c.reply(probeId), "the probe's reply");
    assertProbe(probed, c, "after the sequence");
    const v = c.replies.find((r) => r.id === versionId);
    assert.ok(v && (v.flags & VFIO_USER_F_ERROR) === 0, "VERSION succeeds");

    // Commands are processed strictly in order: every reply is in by the probe's.
    const ours = c.replies.filter((r) => r.id !== versionId && r.id !== probeId);
    const expected = sent.filter((s) => s.expectsReply);
    for (const r of ours) {
      const s = sent.find((x) => x.id === r.id);
      assert.ok(
        s?.expectsReply,
        `reply (id ${r.id}, errno ${r.error}) to: ${s?.what ?? "nothing"}`,
      );
    }
    const missing = expected.filter((s) => !ours.some((r) => r.id === s.id)).map((s) => s.what);
    assert.deepEqual(
      ours.map((r) => r.id),
      expected.map((s) => s.id),
      `one reply per command, in order (missing: ${missing.join("; ") || "none"})`,
    );
    for (const [i, r] of ours.entries()) {
      const s = expected[i]!;
      assert.equal(r.command, s.command, `reply command of: ${s.what}`);
      assert.equal(r.flags & VFIO_USER_F_TYPE_MASK, VFIO_USER_F_TYPE_REPLY);
      if ((r.flags & VFIO_USER_F_ERROR) !== 0) {
        assert.ok(r.error > 0, `error reply with errno 0 to: ${s.what}`);
        assert.equal(r.size, HEADER_SIZE, `error reply carries only a header: ${s.what}`);
      } else {
        assert.equal(r.error, 0, `success reply with errno ${r.error} to: ${s.what}`);
        assert.ok(!s.early, `succeeded before VERSION: ${s.what}`);
      }
    }

    const replies = c.replies.length;
    if (seq.violation !== undefined) {
      const x = seq.violation;
      c.sendRaw(
        x.kind === "size"
          ? rawHeader(nextId(), C.VFIO_USER_REGION_READ, x.size, 0)
          : concat([rawHeader(nextId(), C.VFIO_USER_REGION_READ, 32, x.type), new Uint8Array(16)]),
      );
      await guard(c.end(), `the close after ${JSON.stringify(x)}`);
      assert.equal(
        c.replies.length,
        replies,
        `no reply to a framing violation (${JSON.stringify(x)})`,
      );
    } else {
      c.close();
    }
    assert.equal(dev.child.exitCode, null, `server exited: ${dev.stderr()}`);
    process.kill(dev.pid, 0);
    assert.equal(await dev.settleFds(baseline, 10_000), baseline, "server fds back to baseline");
    assert.equal(await settleMappings(), 0, "client memory unmapped");
    assert.doesNotMatch(dev.stderr().slice(logged), /error:/, "server logged an internal error");
  }

  it("answers every command exactly once, keeps the connection and leaks nothing", async () => {
    await fc.assert(fc.asyncProperty(sequence, run), {
      seed: Number(process.env.FUZZ_SEED ?? 0x5eed),
      numRuns: Number(process.env.FUZZ_RUNS ?? 200),
      includeErrorInReport: true,
      endOnFailure: Boolean(process.env.FUZZ_NOSHRINK),
    });
    const c = new WireClient(dev.path);
    version(c, 7);
    probe(c, 8);
    assertProbe(await c.reply(8), c, "a new client afterwards");
    c.close();
    assert.equal(await dev.settleFds(baseline), baseline);
  });

  // Found by the fuzzer: mmap's argument checks threw RangeError (EIO, logged as a bug).
  it("DMA_MAP with an fd: size 0 or an offset past off_t is EINVAL, no internal error", async () => {
    const logged = dev.stderr().length;
    const c = new WireClient(dev.path);
    version(c, 1);
    const map = pack("4 4 8 8 8", [32, 3, 0n, 0x10000n, 0n]);
    c.send(2, C.VFIO_USER_DMA_MAP, 0, map, [pool.memfd[0]!]);
    const far = pack("4 4 8 8 8", [32, 3, (1n << 64n) - 0x1000n, 0x10000n, 0x1000n]);
    c.send(3, C.VFIO_USER_DMA_MAP, 0, far, [pool.eventfd[0]!]);
    probe(c, 4);
    assertProbe(await guard(c.reply(4), "probe"), c, "after DMA_MAP");
    for (const id of [2, 3]) {
      const r = c.replies.find((x) => x.id === id);
      assert.equal(r?.flags, VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR, `DMA_MAP id ${id}`);
      assert.equal(r?.error, 22, `DMA_MAP id ${id}`);
    }
    c.close();
    assert.equal(await dev.settleFds(baseline), baseline);
    assert.doesNotMatch(dev.stderr().slice(logged), /error:/);
  });
});
