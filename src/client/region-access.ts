import { VfioError } from "../errors.js";
import { closeFdQuietly } from "../sys/index.js";
import type { DeviceBackend, DeviceInfo, RegionInfo } from "./backend.js";
import { checkRegionInfo } from "./info-checks.js";
import type { MmioBlocking } from "./mmio-blocking.js";
import { regionName, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE } from "./vfio-abi.js";

export type Offset = bigint | number;
export type AccessOp = "read" | "write";

/** What the access checks need to know about their device (a DeviceHandle). */
export interface AccessedDevice {
  readonly name: string;
  readonly info: DeviceInfo;
  readonly isPci: boolean;
  readonly backend: DeviceBackend;
  readonly closed: boolean;
  readonly disconnectError: Error | null;
}

/**
 * Region info (checked, cached) and the checks every region access passes before it
 * reaches the backend: the device is usable, the region exists and allows the access,
 * the access is inside it, and a posted write is not blocked. Once a region's info is
 * known its accesses are checked synchronously; until then they wait for it.
 */
export class RegionAccess {
  readonly #dev: AccessedDevice;
  readonly #mmio: MmioBlocking;
  readonly #regions = new Map<number, Promise<RegionInfo>>();
  /** The region infos already resolved: accesses to them are checked synchronously. */
  readonly #infos = new Map<number, RegionInfo>();
  /**
   * Accesses waiting for their region info. While any wait, new accesses wait too (take
   * the slow path), so every access reaches the backend in call order.
   */
  #waiting = 0;

  constructor(dev: AccessedDevice, mmio: MmioBlocking) {
    this.#dev = dev;
    this.#mmio = mmio;
  }

  /** VFIO_DEVICE_GET_REGION_INFO, checked and cached (the fd is the device's to close). */
  regionInfo(index: number): Promise<RegionInfo> {
    try {
      this.checkUsable("regionInfo");
      this.#checkRegionIndex(index);
    } catch (err) {
      return Promise.reject(err);
    }
    let p = this.#regions.get(index);
    if (p === undefined) {
      const dev = this.#dev;
      p = dev.backend.getRegionInfo(index).then((info) => {
        try {
          const checked = checkRegionInfo(index, info, dev.isPci);
          if (!dev.closed) this.#infos.set(index, checked);
          return checked;
        } catch (err) {
          if (info.fd >= 0) closeFdQuietly(info.fd);
          throw err;
        }
      });
      this.#regions.set(index, p);
      p.catch(() => this.#regions.delete(index));
    }
    return p;
  }

  /**
   * Checks an access of `length` bytes at `offset` and hands the offset (as a bigint) to
   * `issue`, which sends it: right away when the region info is cached and no access
   * waits, else once the info is known. A failed check rejects; `issue` never runs.
   */
  run<T>(
    index: number,
    offset: Offset,
    length: number,
    op: AccessOp,
    issue: (off: bigint) => Promise<T>,
  ): Promise<T> {
    const info = this.#readyInfo(index);
    if (info === undefined) return this.#runWaiting(index, offset, length, op, issue);
    let off: bigint;
    try {
      off = this.#checkInfo(info, index, offset, length, op);
    } catch (err) {
      return Promise.reject(err);
    }
    return issue(off).catch((err: unknown) => {
      throw this.#explain(err, index, off, op);
    });
  }

  /**
   * The peer answers a blocked access with a bare EIO; when we know why it is blocked
   * (memory decoding off, a reset in progress) the error says so, with the peer's
   * reply as its cause.
   */
  #explain(err: unknown, index: number, off: bigint, op: AccessOp): unknown {
    if (!(err instanceof VfioError) || err.code !== "EIO") return err;
    const blocked = this.#mmio.blockedReason(index);
    if (blocked === null) return err;
    const why = blocked.replace(/; set it to fault the mapping back in$/, "");
    return new VfioError(
      "EIO",
      `${this.#dev.name}: ${op} of ${regionName(index)} at 0x${off.toString(16)} failed (EIO): ${why}`,
      { cause: err },
    );
  }

  /** Throws EIO when a posted write to `index` must not go out now (MMIO blocking). */
  checkPosted(index: number): void {
    const blocked = this.#mmio.blockedReason(index);
    if (blocked !== null) {
      throw new VfioError(
        "EIO",
        `${this.#dev.name}: posted write to ${regionName(index)} blocked, ${blocked}`,
      );
    }
  }

  checkUsable(op: string): void {
    const dev = this.#dev;
    if (dev.closed) throw new VfioError("EBADF", `${dev.name}: ${op} on a closed device`);
    const gone = dev.disconnectError;
    if (gone !== null) {
      throw new VfioError(
        "ENOTCONN",
        `${dev.name}: ${op}: the device is disconnected (${gone.message})`,
        { cause: gone },
      );
    }
  }

  /** Forgets every region info and closes their fds (the device is closing). */
  async release(): Promise<void> {
    this.#infos.clear();
    const infos = await Promise.allSettled(this.#regions.values());
    for (const r of infos)
      if (r.status === "fulfilled" && r.value.fd >= 0) closeFdQuietly(r.value.fd);
    this.#regions.clear();
  }

  /** Region info for the synchronous path: cached, device usable, no access waiting. */
  #readyInfo(index: number): RegionInfo | undefined {
    const dev = this.#dev;
    if (this.#waiting > 0 || dev.closed || dev.disconnectError !== null) return undefined;
    return this.#infos.get(index);
  }

  /**
   * The cold path. The access counts as waiting until `issue` has put it on the wire,
   * so an access to a cached region made meanwhile cannot overtake it.
   */
  async #runWaiting<T>(
    index: number,
    offset: Offset,
    length: number,
    op: AccessOp,
    issue: (off: bigint) => Promise<T>,
  ): Promise<T> {
    this.#waiting++;
    let sent: Promise<T>;
    try {
      sent = issue(await this.#checkAccess(index, offset, length, op));
    } finally {
      this.#waiting--;
    }
    return sent;
  }

  async #checkAccess(index: number, offset: Offset, length: number, op: AccessOp): Promise<bigint> {
    checkLength(this.#dev.name, length, op);
    const off = BigInt(offset);
    const info = await this.regionInfo(index);
    return this.#checkInfo(info, index, off, length, op);
  }

  /** The checks of an access once its region info is known; the offset as a bigint. */
  #checkInfo(
    info: RegionInfo,
    index: number,
    offset: Offset,
    length: number,
    op: AccessOp,
  ): bigint {
    const name = this.#dev.name;
    checkLength(name, length, op);
    const off = typeof offset === "bigint" ? offset : BigInt(offset);
    const flag = op === "read" ? VFIO_REGION_INFO_FLAG_READ : VFIO_REGION_INFO_FLAG_WRITE;
    if ((info.flags & flag) === 0) {
      throw new VfioError("EINVAL", `${name}: ${regionName(index)} does not allow ${op}s`);
    }
    if (off < 0n || off + BigInt(length) > info.size) {
      throw new VfioError(
        "EINVAL",
        `${name}: ${op} of ${length} bytes at 0x${off.toString(16)} is outside ${regionName(index)} ` +
          `(0x${info.size.toString(16)} bytes)`,
      );
    }
    this.checkUsable(op);
    return off;
  }

  #checkRegionIndex(index: number): void {
    const n = this.#dev.info.numRegions;
    if (!Number.isInteger(index) || index < 0 || index >= n) {
      throw new VfioError(
        "EINVAL",
        `${this.#dev.name}: region ${index} does not exist (the device has ${n})`,
      );
    }
  }
}

function checkLength(name: string, length: number, op: string): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new VfioError("EINVAL", `${name}: ${op} length ${length} is invalid`);
  }
}
