/**
 * Get / Set Features (NVMe Base 1.4, section 5.21.1): the features a Linux host and
 * our driver use, each a stored Dword 11. Nothing is saveable (ONCS bit 4 is clear).
 */
import { type Completion, fail, Status, success } from "./status.js";

export const FID_ARBITRATION = 0x01;
export const FID_POWER_MANAGEMENT = 0x02;
export const FID_TEMPERATURE_THRESHOLD = 0x04;
export const FID_ERROR_RECOVERY = 0x05;
export const FID_VOLATILE_WRITE_CACHE = 0x06;
export const FID_NUMBER_OF_QUEUES = 0x07;
export const FID_INTERRUPT_COALESCING = 0x08;
export const FID_INTERRUPT_VECTOR_CONFIG = 0x09;
export const FID_WRITE_ATOMICITY = 0x0a;
export const FID_ASYNC_EVENT_CONFIG = 0x0b;

export interface FeatureLimits {
  /** I/O queues of each kind the controller can give (Number of Queues). */
  readonly maxIoQueues: number;
  /** Interrupt vectors (Interrupt Vector Configuration). */
  readonly vectors: number;
  /** True once I/O queues exist: Number of Queues may not change then. */
  readonly ioQueuesExist: () => boolean;
}

/** What Features holds, as migration carries it. */
export interface FeatureSnapshot {
  readonly queues: number;
  readonly values: readonly (readonly [number, number])[];
  readonly temperature: readonly (readonly [number, number])[];
  readonly vectorConfig: readonly (readonly [number, number])[];
}

/** Get Features' SEL (cdw10 bits 10:8). */
const SEL_DEFAULT = 1;
const SEL_SUPPORTED = 3;
/** Supported capabilities: changeable, not saveable, not namespace specific. */
const CAP_CHANGEABLE = 1 << 2;

export class Features {
  readonly #limits: FeatureLimits;
  readonly #values = new Map<number, number>();
  readonly #temperature = new Map<number, number>();
  readonly #vectorConfig = new Map<number, number>();
  /** Number of Queues as allocated: NSQA | NCQA << 16, both 0-based. */
  #queues: number;

  constructor(limits: FeatureLimits) {
    this.#limits = limits;
    const n = limits.maxIoQueues - 1;
    this.#queues = n | (n << 16);
  }

  /** I/O submission and completion queues the host may create. */
  get allocatedQueues(): { sq: number; cq: number } {
    return { sq: (this.#queues & 0xffff) + 1, cq: (this.#queues >>> 16) + 1 };
  }

  /** The value a feature has after reset. */
  #default(fid: number): number | undefined {
    switch (fid) {
      case FID_ARBITRATION:
      case FID_POWER_MANAGEMENT:
      case FID_ERROR_RECOVERY:
      case FID_INTERRUPT_COALESCING:
      case FID_WRITE_ATOMICITY:
      case FID_ASYNC_EVENT_CONFIG:
        return 0;
      case FID_VOLATILE_WRITE_CACHE:
        return 1;
      default:
        return undefined;
    }
  }

  get(cdw10: number, cdw11: number): Completion {
    const fid = cdw10 & 0xff;
    const sel = (cdw10 >>> 8) & 7;
    if (sel > SEL_SUPPORTED) return fail(Status.INVALID_FIELD);
    const known =
      this.#default(fid) !== undefined ||
      fid === FID_NUMBER_OF_QUEUES ||
      fid === FID_TEMPERATURE_THRESHOLD ||
      fid === FID_INTERRUPT_VECTOR_CONFIG;
    if (!known) return fail(Status.INVALID_FIELD);
    if (sel === SEL_SUPPORTED) return success(fid === FID_NUMBER_OF_QUEUES ? 0 : CAP_CHANGEABLE);
    const current = sel !== SEL_DEFAULT;
    switch (fid) {
      case FID_NUMBER_OF_QUEUES:
        return success(this.#queues);
      case FID_TEMPERATURE_THRESHOLD: {
        const key = (cdw11 >>> 16) & 0x3f; // TMPSEL | THSEL
        const over = ((cdw11 >>> 20) & 3) === 0;
        const dflt = over ? 0x0157 : 0;
        return success(((current ? this.#temperature.get(key) : undefined) ?? dflt) | (key << 16));
      }
      case FID_INTERRUPT_VECTOR_CONFIG: {
        const iv = cdw11 & 0xffff;
        if (iv >= this.#limits.vectors) return fail(Status.INVALID_FIELD);
        return success((current ? this.#vectorConfig.get(iv) : undefined) ?? iv);
      }
      default:
        return success((current ? this.#values.get(fid) : undefined) ?? this.#default(fid)!);
    }
  }

  set(cdw10: number, cdw11: number): Completion {
    const fid = cdw10 & 0xff;
    if ((cdw10 & 0x80000000) !== 0) return fail(Status.FEATURE_NOT_SAVEABLE);
    switch (fid) {
      case FID_NUMBER_OF_QUEUES: {
        const nsqr = cdw11 & 0xffff;
        const ncqr = cdw11 >>> 16;
        if (nsqr === 0xffff || ncqr === 0xffff) return fail(Status.INVALID_FIELD);
        if (this.#limits.ioQueuesExist()) return fail(Status.COMMAND_SEQUENCE_ERROR);
        const max = this.#limits.maxIoQueues - 1;
        this.#queues = Math.min(nsqr, max) | (Math.min(ncqr, max) << 16);
        return success(this.#queues);
      }
      case FID_POWER_MANAGEMENT:
        if ((cdw11 & 0x1f) !== 0) return fail(Status.INVALID_FIELD); // only power state 0
        break;
      case FID_TEMPERATURE_THRESHOLD:
        this.#temperature.set((cdw11 >>> 16) & 0x3f, cdw11 & 0xffff);
        return success(0);
      case FID_INTERRUPT_VECTOR_CONFIG: {
        const iv = cdw11 & 0xffff;
        if (iv >= this.#limits.vectors) return fail(Status.INVALID_FIELD);
        this.#vectorConfig.set(iv, cdw11 & 0x1ffff);
        return success(0);
      }
      default:
        if (this.#default(fid) === undefined) return fail(Status.INVALID_FIELD);
    }
    this.#values.set(fid, cdw11);
    return success(0);
  }

  /** Controller reset: every feature back to its default. */
  reset(): void {
    this.#values.clear();
    this.#temperature.clear();
    this.#vectorConfig.clear();
    const n = this.#limits.maxIoQueues - 1;
    this.#queues = n | (n << 16);
  }

  /** Every value set (migration): Number of Queues and the stored Dword 11s. */
  snapshot(): FeatureSnapshot {
    return {
      queues: this.#queues,
      values: [...this.#values],
      temperature: [...this.#temperature],
      vectorConfig: [...this.#vectorConfig],
    };
  }

  /** Takes a snapshot() of another controller with the same limits. */
  restore(s: FeatureSnapshot): void {
    this.reset();
    this.#queues = s.queues;
    for (const [k, v] of s.values) this.#values.set(k, v);
    for (const [k, v] of s.temperature) this.#temperature.set(k, v);
    for (const [k, v] of s.vectorConfig) this.#vectorConfig.set(k, v);
  }

  /** The Volatile Write Cache Enable bit. */
  get writeCacheEnabled(): boolean {
    return ((this.#values.get(FID_VOLATILE_WRITE_CACHE) ?? 1) & 1) === 1;
  }
}
