import { VfioError } from "../../errors.js";
import type { DeviceContext, MmapArea, RegionHandlers } from "../device.js";
import { checkDecode, type DecodeSpace, type DecodeState, decodeEnabled } from "../mmio-gate.js";
import { callRead, callWrite } from "./handler-call.js";
import type { Region, RegionMmap } from "./region.js";
import type { SharedMemory } from "./shared-memory.js";

/** The MSI-X structures the framework emulates inside this BAR. */
export interface MsixPart {
  readonly table?: { readonly offset: number; readonly size: number };
  readonly pba?: { readonly offset: number; readonly size: number };
  readTable(offset: number, size: number): Uint8Array;
  writeTable(offset: number, data: Uint8Array): void;
  readPba(offset: number, size: number): Uint8Array;
}

export interface BarRegionOptions {
  readonly index: number;
  readonly size: number;
  readonly space: "memory" | "io";
  readonly handlers: RegionHandlers;
  /** Passed to the handlers. */
  readonly device: DeviceContext;
  /** The command register, read at every access for the MMIO gate. */
  readonly decode: () => DecodeState;
  /** Backing memory of an mmap-able BAR. */
  readonly memory?: SharedMemory;
  /** Areas offered for mmap (absolute offsets); undefined when the whole BAR is offered. */
  readonly sparse?: readonly MmapArea[];
  readonly msix?: MsixPart;
}

type PieceKind = "table" | "pba" | "memory" | "handler";

interface Piece {
  readonly kind: PieceKind;
  readonly start: number;
  readonly end: number;
  /** Offset of `start` inside the MSI-X structure, for table/pba pieces. */
  readonly base: number;
}

interface Span {
  readonly kind: PieceKind;
  readonly start: number;
  readonly end: number;
}

/**
 * A BAR: accesses are split along the structures inside it (MSI-X table, PBA, mmap
 * areas, the rest) and each part is served by its owner. The MMIO gate applies to
 * everything but the MSI-X structures, and it is checked for the whole access before
 * any part runs, so a blocked access never reaches the device.
 */
export class BarRegion implements Region {
  readonly index: number;
  readonly name: string;
  readonly size: number;
  readonly readable = true;
  readonly writable = true;
  readonly mmap: RegionMmap | undefined;
  readonly typeCap = undefined;
  readonly #space: DecodeSpace;
  readonly #handlers: RegionHandlers;
  readonly #device: DeviceContext;
  readonly #decode: () => DecodeState;
  readonly #memory: SharedMemory | undefined;
  readonly #msix: MsixPart | undefined;
  /** Sorted, disjoint special spans; gaps between them are `#gapKind`. */
  readonly #spans: readonly Span[];
  readonly #gapKind: PieceKind;

  constructor(o: BarRegionOptions) {
    this.index = o.index;
    this.name = `BAR${o.index}`;
    this.size = o.size;
    this.#space = o.space;
    this.#handlers = o.handlers;
    this.#device = o.device;
    this.#decode = o.decode;
    this.#memory = o.memory;
    this.#msix = o.msix;
    this.mmap = o.memory ? { fd: o.memory.fd, sparse: o.sparse } : undefined;
    const spans: Span[] = [];
    if (o.msix?.table) spans.push(span("table", o.msix.table));
    if (o.msix?.pba) spans.push(span("pba", o.msix.pba));
    const hasHandlers = o.handlers.read !== undefined || o.handlers.write !== undefined;
    if (o.memory && hasHandlers) {
      // Handlers serve what the client cannot map; the mmap areas are plain memory.
      for (const a of o.sparse ?? [{ offset: 0, size: o.size }]) spans.push(span("memory", a));
    }
    spans.sort((a, b) => a.start - b.start);
    this.#spans = spans;
    this.#gapKind = o.memory && !hasHandlers ? "memory" : "handler";
  }

  read(offset: number, size: number): Uint8Array | Promise<Uint8Array> {
    const pieces = this.#split(offset, size);
    this.#gate(pieces, "read", offset, size);
    if (pieces.length === 1) return this.#readPiece(pieces[0]!);
    return this.#readPieces(pieces, offset, size);
  }

  write(offset: number, data: Uint8Array): void | Promise<void> {
    const pieces = this.#split(offset, data.byteLength);
    this.#gate(pieces, "write", offset, data.byteLength);
    if (pieces.length === 1) return this.#writePiece(pieces[0]!, data);
    return this.#writePieces(pieces, offset, data);
  }

  /** An access across structures (rare): its parts one after the other. */
  async #readPieces(pieces: readonly Piece[], offset: number, size: number): Promise<Uint8Array> {
    const out = new Uint8Array(size);
    for (const p of pieces) out.set(await this.#readPiece(p), p.start - offset);
    return out;
  }

  async #writePieces(pieces: readonly Piece[], offset: number, data: Uint8Array): Promise<void> {
    for (const p of pieces) {
      await this.#writePiece(p, data.subarray(p.start - offset, p.end - offset));
    }
  }

  #gate(pieces: readonly Piece[], op: string, offset: number, size: number): void {
    if (pieces.every((p) => p.kind === "table" || p.kind === "pba")) return;
    const state = this.#decode();
    if (decodeEnabled(state, this.#space)) return; // the message is built only when blocked
    checkDecode(
      state,
      this.#space,
      `${this.name} ${op} of ${size} bytes at 0x${offset.toString(16)}`,
    );
  }

  #readPiece(p: Piece): Uint8Array | Promise<Uint8Array> {
    const len = p.end - p.start;
    switch (p.kind) {
      case "table":
        return this.#msix!.readTable(p.base, len);
      case "pba":
        return this.#msix!.readPba(p.base, len);
      case "memory":
        return this.#memory!.bytes.slice(p.start, p.end);
      default:
        return callRead(this.#handlers, this.#device, p.start, len, this.name);
    }
  }

  #writePiece(p: Piece, data: Uint8Array): void | Promise<void> {
    switch (p.kind) {
      case "table":
        this.#msix!.writeTable(p.base, data);
        return;
      case "pba":
        return; // the PBA is read-only to software
      case "memory":
        this.#memory!.bytes.set(data, p.start);
        return;
      default:
        return callWrite(this.#handlers, this.#device, p.start, data, this.name);
    }
  }

  #split(offset: number, size: number): Piece[] {
    if (offset < 0 || size <= 0 || offset + size > this.size) {
      throw new VfioError(
        "EINVAL",
        `${this.name}: access of ${size} bytes at 0x${offset.toString(16)} is outside its ${this.size} bytes`,
      );
    }
    const end = offset + size;
    const pieces: Piece[] = [];
    let at = offset;
    for (const s of this.#spans) {
      if (s.end <= at) continue;
      if (s.start >= end) break;
      if (s.start > at) pieces.push({ kind: this.#gapKind, start: at, end: s.start, base: 0 });
      const from = Math.max(at, s.start);
      const to = Math.min(end, s.end);
      pieces.push({ kind: s.kind, start: from, end: to, base: from - s.start });
      at = to;
    }
    if (at < end) pieces.push({ kind: this.#gapKind, start: at, end, base: 0 });
    return pieces;
  }
}

function span(kind: PieceKind, a: { offset: number; size: number }): Span {
  return { kind, start: a.offset, end: a.offset + a.size };
}
