/**
 * VFIO_DEVICE_FEATURE on a kernel device fd: migration v2 and DMA logging, in the
 * kernel's own layouts. They differ from vfio-user's where the kernel takes pointers
 * (the logging ranges, the report bitmap) and where migration data travels: the
 * kernel hands out a data_fd on entering a saving or resuming state, read and written
 * like a pipe, instead of MIG_DATA messages.
 */
import { closeSync, readSync, writeSync } from "node:fs";
import { VfioError } from "../../errors.js";
import {
  type FeatureData,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
  VFIO_DEVICE_FEATURE_MIGRATION,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
} from "../../protocol/index.js";
import { addressOf } from "../../sys/index.js";

/** Runs VFIO_DEVICE_FEATURE with `buf` (struct vfio_device_feature) on the device. */
export type FeatureIoctl = (buf: Uint8Array) => void;

const HEADER = 8;

export class KernelFeatures {
  readonly #ioctl: FeatureIoctl;
  readonly #name: string;
  /** The data_fd of the current saving/resuming session, or -1. */
  #dataFd = -1;

  constructor(name: string, ioctl: FeatureIoctl) {
    this.#name = name;
    this.#ioctl = ioctl;
  }

  feature(feature: number, ops: number, data: FeatureData, replyRoom = 0): FeatureData {
    if ((ops & VFIO_DEVICE_FEATURE_PROBE) !== 0) {
      this.#call(feature, ops, new Uint8Array(HEADER));
      return data;
    }
    switch (feature) {
      case VFIO_DEVICE_FEATURE_MIGRATION: {
        const buf = this.#call(feature, ops, new Uint8Array(HEADER + 8));
        return { kind: "migration", flags: view(buf).getBigUint64(HEADER, true) };
      }
      case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE: {
        const buf = new Uint8Array(HEADER + 8);
        const dv = view(buf);
        if ((ops & VFIO_DEVICE_FEATURE_SET) !== 0) {
          if (data.kind !== "mig-state") throw bad("mig-state");
          dv.setUint32(HEADER, data.deviceState, true);
        }
        dv.setInt32(HEADER + 4, -1, true);
        this.#call(feature, ops, buf);
        const fd = dv.getInt32(HEADER + 4, true);
        if ((ops & VFIO_DEVICE_FEATURE_SET) !== 0) this.#replaceDataFd(fd);
        return { kind: "mig-state", deviceState: dv.getUint32(HEADER, true), dataFd: fd >>> 0 };
      }
      case VFIO_DEVICE_FEATURE_DMA_LOGGING_START: {
        if (data.kind !== "dma-logging-control") throw bad("dma-logging-control");
        const ranges = new Uint8Array(16 * Math.max(1, data.ranges.length));
        const rv = view(ranges);
        data.ranges.forEach((r, i) => {
          rv.setBigUint64(16 * i, r.iova, true);
          rv.setBigUint64(16 * i + 8, r.length, true);
        });
        const buf = new Uint8Array(HEADER + 24);
        const dv = view(buf);
        dv.setBigUint64(HEADER, data.pageSize, true);
        dv.setUint32(HEADER + 8, data.ranges.length, true);
        dv.setBigUint64(HEADER + 16, addressOf(ranges), true);
        this.#call(feature, ops, buf);
        return { ...data, pageSize: dv.getBigUint64(HEADER, true) };
      }
      case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT: {
        if (data.kind !== "dma-logging-report") throw bad("dma-logging-report");
        const bitmap = new Uint8Array(Math.max(8, replyRoom - 24));
        const buf = new Uint8Array(HEADER + 32);
        const dv = view(buf);
        dv.setBigUint64(HEADER, data.iova, true);
        dv.setBigUint64(HEADER + 8, data.length, true);
        dv.setBigUint64(HEADER + 16, data.pageSize, true);
        dv.setBigUint64(HEADER + 24, addressOf(bitmap), true);
        this.#call(feature, ops, buf);
        return { ...data, bitmap: bitmap.subarray(0, Math.max(0, replyRoom - 24)) };
      }
      default:
        // DMA_LOGGING_STOP and anything without data.
        this.#call(feature, ops, new Uint8Array(HEADER));
        return { kind: "raw", bytes: new Uint8Array(0) };
    }
  }

  /** Up to `size` bytes from the data_fd; fewer means the device has no more (for now). */
  read(size: number): Uint8Array {
    const fd = this.#needFd("read");
    const out = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      let n: number;
      try {
        n = readSync(fd, out, got, size - got, null);
      } catch (err) {
        // PRE_COPY with nothing more to give for now.
        if ((err as { code?: string }).code === "ENOMSG") break;
        throw err;
      }
      if (n === 0) break;
      got += n;
    }
    return out.subarray(0, got);
  }

  write(data: Uint8Array): void {
    const fd = this.#needFd("write");
    for (let at = 0; at < data.byteLength; ) at += writeSync(fd, data, at, data.byteLength - at);
  }

  close(): void {
    this.#replaceDataFd(-1);
  }

  #call(feature: number, ops: number, buf: Uint8Array): Uint8Array {
    const dv = view(buf);
    dv.setUint32(0, buf.byteLength, true);
    dv.setUint32(4, (feature | ops) >>> 0, true);
    this.#ioctl(buf);
    return buf;
  }

  #replaceDataFd(fd: number): void {
    if (this.#dataFd >= 0 && this.#dataFd !== fd) {
      try {
        closeSync(this.#dataFd);
      } catch {
        // already gone
      }
    }
    this.#dataFd = fd;
  }

  #needFd(op: string): number {
    if (this.#dataFd < 0) {
      throw new VfioError(
        "EINVAL",
        `${this.#name}: migration data ${op} outside a saving or resuming state (no data_fd)`,
      );
    }
    return this.#dataFd;
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function bad(kind: string): VfioError {
  return new VfioError("EINVAL", `VFIO_DEVICE_FEATURE: expected ${kind} data`);
}
