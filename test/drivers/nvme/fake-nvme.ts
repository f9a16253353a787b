/**
 * A small NVMe controller written on the device SDK, for host tests of the driver
 * over the loopback backend (the real reference is QEMU's, in the guest tests). It is
 * written from the spec independently of the driver: its own register decoding and
 * PRP walk, one namespace of 512-byte blocks in memory, MDTS 16 KiB so transfers
 * split and use PRP lists, MSI-X with the vector each CQ names. `fail()` makes it
 * fatal (CSTS.CFS) and stops it processing commands.
 */
import { createDevice, type PciDevice } from "../../../src/server/index.js";

const BS = 512;
const MAX_QID = 4;
const MDTS_BYTES = 16 * 1024;

interface Sq {
  base: bigint;
  size: number;
  head: number;
  tail: number;
  cqid: number;
}
interface Cq {
  base: bigint;
  size: number;
  tail: number;
  phase: number;
  vector: number;
  ien: boolean;
}

export interface FakeNvme {
  readonly device: PciDevice;
  readonly storage: Uint8Array;
  /** Commands completed, by opcode (I/O and admin mixed). */
  readonly completed: number;
  fail(): void;
}

const ok = { status: 0, result: 0 };
const err = (sct: number, sc: number) => ({ status: sc | (sct << 8) | (1 << 14), result: 0 });

export function fakeNvme(blocks: number): FakeNvme {
  const storage = new Uint8Array(blocks * BS);
  let cc = 0;
  let csts = 0;
  let aqa = 0;
  let asq = 0n;
  let acq = 0n;
  let fatal = false;
  let completed = 0;
  let hostWrites = 0n;
  const features = new Map<number, number>();
  const sqs = new Map<number, Sq>();
  const cqs = new Map<number, Cq>();
  let work: Promise<void> = Promise.resolve();

  const dev: PciDevice = createDevice({
    name: "fake-nvme",
    vendorId: 0x1b36,
    deviceId: 0x0010,
    classCode: 0x010802,
    bars: [
      {
        kind: "mem64",
        size: 0x4000,
        read(off) {
          switch (off) {
            case 0x00:
              return 63 | (1 << 16) | (1 << 24); // MQES 63, CQR, TO 500 ms
            case 0x04:
              return 1 << 5; // CSS: NVM; DSTRD 0; MPSMIN = MPSMAX = 4 KiB
            case 0x08:
              return 0x00010400;
            case 0x14:
              return cc;
            case 0x1c:
              return csts;
            case 0x24:
              return aqa;
            default:
              return 0;
          }
        },
        write(off, data) {
          const v = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0, true);
          if (off === 0x14) setCc(v);
          else if (off === 0x24) aqa = v;
          else if (off === 0x28) asq = (asq & ~0xffffffffn) | BigInt(v);
          else if (off === 0x2c) asq = (asq & 0xffffffffn) | (BigInt(v) << 32n);
          else if (off === 0x30) acq = (acq & ~0xffffffffn) | BigInt(v);
          else if (off === 0x34) acq = (acq & 0xffffffffn) | (BigInt(v) << 32n);
          else if (off >= 0x1000 && off < 0x1000 + 8 * (MAX_QID + 1))
            doorbell((off - 0x1000) / 4, v);
        },
      },
    ],
    capabilities: [
      {
        kind: "msix",
        tableSize: 8,
        tableBar: 0,
        tableOffset: 0x2000,
        pbaBar: 0,
        pbaOffset: 0x3000,
      },
    ],
  });

  function setCc(v: number): void {
    const wasOn = (cc & 1) !== 0;
    cc = v;
    if ((v & 1) !== 0 && !wasOn) {
      sqs.set(0, { base: asq, size: (aqa & 0xfff) + 1, head: 0, tail: 0, cqid: 0 });
      cqs.set(0, {
        base: acq,
        size: ((aqa >>> 16) & 0xfff) + 1,
        tail: 0,
        phase: 1,
        vector: 0,
        ien: true,
      });
      csts = (csts & ~1) | 1;
    } else if ((v & 1) === 0) {
      sqs.clear();
      cqs.clear();
      csts = 0;
      fatal = false;
    }
    if (((v >>> 14) & 3) !== 0) csts = (csts & ~0xc) | 0x8; // shutdown complete at once
  }

  function doorbell(index: number, value: number): void {
    const qid = index >> 1;
    if (index % 2 === 1) return; // CQ head: nothing to track in this fake
    const sq = sqs.get(qid);
    // A doorbell for no queue, or beyond it: the spec lets a controller go fatal.
    if (sq === undefined || value >= sq.size) {
      fatal = true;
      csts |= 2;
      return;
    }
    sq.tail = value;
    work = work.then(() => process(qid)).catch(() => {});
  }

  async function process(qid: number): Promise<void> {
    const sq = sqs.get(qid);
    while (sq !== undefined && sq.head !== sq.tail && !fatal) {
      const sqe = await dev.dma.read(sq.base + BigInt(sq.head * 64), 64);
      sq.head = (sq.head + 1) % sq.size;
      const v = new DataView(sqe.buffer, sqe.byteOffset, 64);
      const cid = v.getUint16(2, true);
      const r = qid === 0 ? await admin(v) : await io(v);
      const cq = cqs.get(sq.cqid);
      if (cq === undefined || fatal) return;
      const cqe = new Uint8Array(16);
      const c = new DataView(cqe.buffer);
      c.setUint32(0, r.result >>> 0, true);
      c.setUint32(8, (sq.head | (qid << 16)) >>> 0, true);
      c.setUint32(12, (cid | (cq.phase << 16) | (r.status << 17)) >>> 0, true);
      await dev.dma.write(cq.base + BigInt(cq.tail * 16), cqe);
      cq.tail++;
      if (cq.tail === cq.size) {
        cq.tail = 0;
        cq.phase ^= 1;
      }
      completed++;
      if (cq.ien) dev.irq.trigger(cq.vector);
    }
  }

  /** The pages a transfer touches: PRP1, then PRP2 or the list PRP2 points to. */
  async function segments(prp1: bigint, prp2: bigint, length: number): Promise<[bigint, number][]> {
    const first = Math.min(length, 4096 - Number(prp1 % 4096n));
    const out: [bigint, number][] = [[prp1, first]];
    let left = length - first;
    if (left > 0 && left <= 4096) out.push([prp2, left]);
    else if (left > 0) {
      const list = await dev.dma.read(prp2, 4096);
      const lv = new DataView(list.buffer, list.byteOffset, 4096);
      for (let i = 0; left > 0; i++) {
        const n = Math.min(left, 4096);
        out.push([lv.getBigUint64(i * 8, true), n]);
        left -= n;
      }
    }
    return out;
  }

  async function toHost(v: DataView, data: Uint8Array): Promise<void> {
    let at = 0;
    for (const [addr, n] of await segments(
      v.getBigUint64(24, true),
      v.getBigUint64(32, true),
      data.length,
    )) {
      await dev.dma.write(addr, data.subarray(at, at + n));
      at += n;
    }
  }

  async function fromHost(v: DataView, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    let at = 0;
    for (const [addr, n] of await segments(
      v.getBigUint64(24, true),
      v.getBigUint64(32, true),
      length,
    )) {
      out.set(await dev.dma.read(addr, n), at);
      at += n;
    }
    return out;
  }

  async function admin(v: DataView): Promise<{ status: number; result: number }> {
    const opcode = v.getUint8(0);
    const nsid = v.getUint32(4, true);
    const cdw10 = v.getUint32(40, true);
    const cdw11 = v.getUint32(44, true);
    const qid = cdw10 & 0xffff;
    switch (opcode) {
      case 0x06: {
        const page = new Uint8Array(4096);
        const p = new DataView(page.buffer);
        const text = (at: number, len: number, s: string) => {
          page.fill(0x20, at, at + len);
          page.set(new TextEncoder().encode(s), at);
        };
        const cns = cdw10 & 0xff;
        if (cns === 1) {
          p.setUint16(0, 0x1b36, true);
          text(4, 20, "fake-serial");
          text(24, 40, "vfio-ts fake NVMe");
          text(64, 8, "1.0");
          page[77] = 2; // MDTS: 4 pages
          page[512] = 0x66;
          page[513] = 0x44;
          p.setUint32(516, 1, true);
          p.setUint16(520, 0x000c, true); // Write Zeroes, Dataset Management
        } else if (cns === 0) {
          if (nsid !== 1) return err(0, 0x0b);
          p.setBigUint64(0, BigInt(blocks), true);
          p.setBigUint64(8, BigInt(blocks), true);
          page[33] = 1;
          p.setUint32(128, 9 << 16, true);
        } else if (cns === 2) {
          p.setUint32(0, 1, true);
        } else return err(0, 0x02);
        await toHost(v, page);
        return ok;
      }
      case 0x09:
        if ((cdw10 & 0xff) === 7)
          return { status: 0, result: ((MAX_QID - 1) << 16) | (MAX_QID - 1) };
        features.set(cdw10 & 0xff, cdw11);
        return ok;
      case 0x0a:
        return { status: 0, result: features.get(cdw10 & 0xff) ?? 0 };
      case 0x05:
        if (qid === 0 || qid > MAX_QID || cqs.has(qid)) return err(1, 0x01);
        cqs.set(qid, {
          base: v.getBigUint64(24, true),
          size: (cdw10 >>> 16) + 1,
          tail: 0,
          phase: 1,
          vector: cdw11 >>> 16,
          ien: (cdw11 & 2) !== 0,
        });
        return ok;
      case 0x01:
        if (qid === 0 || qid > MAX_QID || sqs.has(qid)) return err(1, 0x01);
        if (!cqs.has(cdw11 >>> 16)) return err(1, 0x00);
        sqs.set(qid, {
          base: v.getBigUint64(24, true),
          size: (cdw10 >>> 16) + 1,
          head: 0,
          tail: 0,
          cqid: cdw11 >>> 16,
        });
        return ok;
      case 0x00:
        if (qid === 0 || !sqs.delete(qid)) return err(1, 0x01);
        return ok;
      case 0x04:
        if (qid === 0 || !cqs.has(qid)) return err(1, 0x01);
        if ([...sqs.values()].some((s) => s.cqid === qid)) return err(1, 0x0c);
        cqs.delete(qid);
        return ok;
      case 0x02: {
        if ((cdw10 & 0xff) !== 2) return err(1, 0x09);
        const log = new Uint8Array(512);
        new DataView(log.buffer).setBigUint64(80, hostWrites, true);
        await toHost(v, log);
        return ok;
      }
      case 0x08:
        return { status: 0, result: 1 };
      default:
        return err(0, 0x01);
    }
  }

  async function io(v: DataView): Promise<{ status: number; result: number }> {
    const opcode = v.getUint8(0);
    if (v.getUint32(4, true) !== 1) return err(0, 0x0b);
    const slba = Number(v.getBigUint64(40, true));
    const nlb = (v.getUint32(48, true) & 0xffff) + 1;
    const inRange = slba + nlb <= blocks;
    switch (opcode) {
      case 0x00:
        return ok;
      case 0x01:
      case 0x02: {
        if (!inRange) return err(0, 0x80);
        if (nlb * BS > MDTS_BYTES) return err(0, 0x02);
        if (opcode === 0x02) await toHost(v, storage.subarray(slba * BS, (slba + nlb) * BS));
        else {
          storage.set(await fromHost(v, nlb * BS), slba * BS);
          hostWrites++;
        }
        return ok;
      }
      case 0x08:
        if (!inRange) return err(0, 0x80);
        storage.fill(0, slba * BS, (slba + nlb) * BS);
        return ok;
      case 0x09: {
        const ranges = await fromHost(v, ((v.getUint32(40, true) & 0xff) + 1) * 16);
        const r = new DataView(ranges.buffer);
        for (let i = 0; i < ranges.length / 16; i++) {
          const n = r.getUint32(i * 16 + 4, true);
          const lba = Number(r.getBigUint64(i * 16 + 8, true));
          if (lba + n > blocks) return err(0, 0x80);
          storage.fill(0, lba * BS, (lba + n) * BS);
        }
        return ok;
      }
      default:
        return err(0, 0x01);
    }
  }

  return {
    device: dev,
    storage,
    get completed() {
      return completed;
    },
    fail() {
      fatal = true;
      csts |= 2;
    },
  };
}
