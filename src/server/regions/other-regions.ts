import { VfioError } from "../../errors.js";
import type {
  DeviceContext,
  DeviceRegionDefinition,
  RegionHandlers,
  RomDefinition,
} from "../device.js";
import { checkDecode, type DecodeState, decodeEnabled } from "../mmio-gate.js";
import { callRead, callWrite } from "./handler-call.js";
import type { Region, RegionMmap, RegionTypeCap } from "./region.js";
import type { SharedMemory } from "./shared-memory.js";

function outside(name: string, offset: number, size: number, limit: number): VfioError {
  return new VfioError(
    "EINVAL",
    `${name}: access of ${size} bytes at 0x${offset.toString(16)} is outside its ${limit} bytes`,
  );
}

/** The expansion ROM (region 6): read-only, decoded only while PCI_COMMAND_MEMORY is set. */
export class RomRegion implements Region {
  readonly index = 6;
  readonly name = "ROM";
  readonly size: number;
  readonly readable = true;
  readonly writable = false;
  readonly mmap = undefined;
  readonly typeCap = undefined;
  readonly #def: RomDefinition;
  readonly #device: DeviceContext;
  readonly #decode: () => DecodeState;

  constructor(def: RomDefinition, device: DeviceContext, size: number, decode: () => DecodeState) {
    this.#def = def;
    this.#device = device;
    this.size = size;
    this.#decode = decode;
  }

  read(offset: number, size: number): Uint8Array | Promise<Uint8Array> {
    if (offset + size > this.size) throw outside(this.name, offset, size, this.size);
    const state = this.#decode();
    if (!decodeEnabled(state, "memory")) {
      checkDecode(state, "memory", `ROM read of ${size} bytes at 0x${offset.toString(16)}`);
    }
    if (this.#def.read) return callRead(this.#def, this.#device, offset, size, "ROM");
    const out = new Uint8Array(size);
    const data = this.#def.data;
    if (data && offset < data.byteLength) out.set(data.subarray(offset, offset + size));
    return out;
  }

  write(): void {
    throw new VfioError("EINVAL", "the ROM is read-only");
  }
}

/** Legacy VGA ranges, at their bus addresses inside region 8. */
const VGA_RANGES = [
  { start: 0xa0000, end: 0xc0000, space: "memory" as const },
  { start: 0x3b0, end: 0x3bc, space: "io" as const },
  { start: 0x3c0, end: 0x3e0, space: "io" as const },
];
export const VGA_REGION_SIZE = 0xc0000;

/** The VGA region (8): memory and I/O ranges gated by their own decode bits. */
export class VgaRegion implements Region {
  readonly index = 8;
  readonly name = "VGA";
  readonly size = VGA_REGION_SIZE;
  readonly readable = true;
  readonly writable = true;
  readonly mmap = undefined;
  readonly typeCap = undefined;
  readonly #handlers: RegionHandlers;
  readonly #device: DeviceContext;
  readonly #decode: () => DecodeState;

  constructor(handlers: RegionHandlers, device: DeviceContext, decode: () => DecodeState) {
    this.#handlers = handlers;
    this.#device = device;
    this.#decode = decode;
  }

  read(offset: number, size: number): Uint8Array | Promise<Uint8Array> {
    this.#check(offset, size, "read");
    return callRead(this.#handlers, this.#device, offset, size, "VGA");
  }

  write(offset: number, data: Uint8Array): void | Promise<void> {
    this.#check(offset, data.byteLength, "write");
    return callWrite(this.#handlers, this.#device, offset, data, "VGA");
  }

  #check(offset: number, size: number, op: string): void {
    const r = VGA_RANGES.find((x) => offset >= x.start && offset + size <= x.end);
    if (r === undefined) {
      throw new VfioError(
        "EINVAL",
        `VGA ${op} of ${size} bytes at 0x${offset.toString(16)} is not inside one legacy VGA range`,
      );
    }
    const state = this.#decode();
    if (!decodeEnabled(state, r.space)) {
      checkDecode(state, r.space, `VGA ${op} at 0x${offset.toString(16)}`);
    }
  }
}

/** A device-specific region (index >= 9), never gated by the command register. */
export class DeviceSpecificRegion implements Region {
  readonly index: number;
  readonly name: string;
  readonly size: number;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly mmap: RegionMmap | undefined;
  readonly typeCap: RegionTypeCap;
  readonly #def: DeviceRegionDefinition;
  readonly #device: DeviceContext;
  readonly #memory: SharedMemory | undefined;

  constructor(
    index: number,
    def: DeviceRegionDefinition,
    device: DeviceContext,
    size: number,
    memory?: SharedMemory,
  ) {
    this.#device = device;
    this.index = index;
    this.name = `region ${index}`;
    this.size = size;
    this.readable = def.readable ?? true;
    this.writable = def.writable ?? true;
    this.typeCap = { type: def.type, subtype: def.subtype };
    this.#def = def;
    this.#memory = memory;
    this.mmap = memory ? { fd: memory.fd, sparse: undefined } : undefined;
  }

  read(offset: number, size: number): Uint8Array | Promise<Uint8Array> {
    if (offset + size > this.size) throw outside(this.name, offset, size, this.size);
    if (this.#memory && !this.#def.read) return this.#memory.bytes.slice(offset, offset + size);
    return callRead(this.#def, this.#device, offset, size, this.name);
  }

  write(offset: number, data: Uint8Array): void | Promise<void> {
    if (offset + data.byteLength > this.size)
      throw outside(this.name, offset, data.byteLength, this.size);
    if (this.#memory && !this.#def.write) {
      this.#memory.bytes.set(data, offset);
      return;
    }
    return callWrite(this.#def, this.#device, offset, data, this.name);
  }
}
