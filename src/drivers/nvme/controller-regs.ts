/**
 * The controller register protocol of bring-up and shutdown (base spec 2.0, section
 * 3.5): disable and wait for CSTS.RDY to clear, program the admin queues, enable and
 * wait for RDY, shut down with CC.SHN. Every wait is bounded by CAP.TO and fails early
 * when the controller reports a fatal status (CSTS.CFS) or reads as all ones (gone).
 */
import type { DeviceHandle } from "../../client/index.js";
import { VfioError } from "../../errors.js";
import {
  CC_EN,
  CC_SHN_MASK,
  CC_SHN_NORMAL,
  CSTS_CFS,
  CSTS_RDY,
  CSTS_SHST_COMPLETE,
  CSTS_SHST_MASK,
  decodeCap,
  NVME_BAR,
  type NvmeCap,
  REG_ACQ,
  REG_AQA,
  REG_ASQ,
  REG_CAP,
  REG_CC,
  REG_CSTS,
  REG_VS,
} from "./regs.js";

/** How often a wait re-reads CSTS. */
const POLL_MS = 2;

/** The register access bring-up needs (a DeviceHandle has it). */
export type RegisterIo = Pick<DeviceHandle, "name" | "read32" | "write32">;

export class ControllerRegs {
  readonly #device: RegisterIo;

  constructor(device: RegisterIo) {
    this.#device = device;
  }

  /** CAP, as two 32-bit reads (a kernel may split or refuse 64-bit BAR accesses). */
  async cap(): Promise<NvmeCap> {
    const lo = await this.#device.read32(NVME_BAR, REG_CAP);
    const hi = await this.#device.read32(NVME_BAR, REG_CAP + 4);
    if (lo === 0xffffffff && hi === 0xffffffff) {
      throw new VfioError(
        "ENODEV",
        `${this.#device.name}: CAP reads all ones: no controller answers`,
      );
    }
    return decodeCap((BigInt(hi) << 32n) | BigInt(lo));
  }

  version(): Promise<number> {
    return this.#device.read32(NVME_BAR, REG_VS);
  }

  csts(): Promise<number> {
    return this.#device.read32(NVME_BAR, REG_CSTS);
  }

  cc(): Promise<number> {
    return this.#device.read32(NVME_BAR, REG_CC);
  }

  setCc(value: number): Promise<void> {
    return this.#device.write32(NVME_BAR, REG_CC, value >>> 0);
  }

  /** AQA, ASQ and ACQ: the admin queues' sizes and bases (written as 32-bit halves). */
  async setAdminQueues(aqa: number, asq: bigint, acq: bigint): Promise<void> {
    const d = this.#device;
    await d.write32(NVME_BAR, REG_AQA, aqa);
    await d.write32(NVME_BAR, REG_ASQ, Number(asq & 0xffffffffn));
    await d.write32(NVME_BAR, REG_ASQ + 4, Number(asq >> 32n));
    await d.write32(NVME_BAR, REG_ACQ, Number(acq & 0xffffffffn));
    await d.write32(NVME_BAR, REG_ACQ + 4, Number(acq >> 32n));
  }

  /** CC.EN = 0 (a controller reset), then waits for CSTS.RDY = 0. */
  async disable(cap: NvmeCap): Promise<void> {
    const cc = await this.cc();
    if ((cc & CC_EN) !== 0) await this.setCc(cc & ~(CC_EN | CC_SHN_MASK));
    // A fatal controller still clears RDY on reset: CFS does not end this wait.
    await this.#waitFor(cap, "CSTS.RDY to clear after CC.EN=0", (s) => (s & CSTS_RDY) === 0, false);
  }

  /** Writes `cc` (with EN set) and waits for CSTS.RDY = 1. */
  async enable(cap: NvmeCap, cc: number): Promise<void> {
    await this.setCc(cc | CC_EN);
    await this.#waitFor(cap, "CSTS.RDY after CC.EN=1", (s) => (s & CSTS_RDY) !== 0, true);
  }

  /** Normal shutdown notification; waits for CSTS.SHST to report it complete. */
  async shutdown(cap: NvmeCap): Promise<void> {
    const cc = await this.cc();
    await this.setCc((cc & ~CC_SHN_MASK) | CC_SHN_NORMAL);
    await this.#waitFor(
      cap,
      "shutdown processing to complete (CSTS.SHST)",
      (s) => (s & CSTS_SHST_MASK) === CSTS_SHST_COMPLETE,
      true,
    );
  }

  async #waitFor(
    cap: NvmeCap,
    what: string,
    done: (csts: number) => boolean,
    failOnFatal: boolean,
  ): Promise<void> {
    // CAP.TO is the worst case the controller promises; 0 would be a broken CAP.
    const limit = Math.max(cap.timeoutMs, 500);
    const deadline = Date.now() + limit;
    for (;;) {
      const csts = await this.csts();
      if (csts === 0xffffffff) {
        throw new VfioError(
          "ENODEV",
          `${this.#device.name}: CSTS reads all ones while waiting for ${what}`,
        );
      }
      if (done(csts)) return;
      if (failOnFatal && (csts & CSTS_CFS) !== 0) {
        throw new VfioError(
          "EIO",
          `${this.#device.name}: controller fatal status (CSTS.CFS) while waiting for ${what}`,
        );
      }
      if (Date.now() > deadline) {
        throw new VfioError(
          "ETIMEDOUT",
          `${this.#device.name}: no ${what} within CAP.TO (${limit} ms); CSTS=0x${csts.toString(16)}`,
        );
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }
}
