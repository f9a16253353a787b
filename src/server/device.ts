/**
 * The device SDK: what a device author declares and what the framework hands back.
 *
 * A device is a plain object literal: identity, BARs with their handlers, optional
 * ROM/VGA/device-specific regions, PCI capabilities and callbacks. `createDevice()`
 * turns it into a `PciDevice`. Every callback receives the device's context as its
 * last argument (`dev`: `irq`, `dma`, `config`, `log`), as libvfio-user passes its
 * `vfu_ctx_t` and QEMU its device state, so a definition needs nothing that exists
 * only once the device is built. The framework owns every VFIO semantic: config
 * space virtualization, MMIO blocking, bus mastering, MSI-X table/PBA, interrupt
 * masking, the IOMMU. Handlers see only accesses that passed all of that.
 */
import type { BarSpec, CapabilitySpec, ExtCapabilitySpec } from "../pci/spec.js";
import type { IrqDelivery } from "./irqs/notifier.js";

/**
 * What a read handler returns: the bytes (exactly `size` of them), or for accesses of
 * up to 8 bytes a number/bigint that is stored little-endian in `size` bytes.
 */
export type ReadResult = Uint8Array | number | bigint;

/**
 * Access handlers of a region. Offsets are numbers: regions are limited to 2^52 bytes
 * so every offset inside one is exact. A handler may be async; the client's next
 * command waits for it (the spec processes commands in order). Throwing a VfioError
 * sends its errno to the client; anything else thrown becomes EIO. A missing read
 * handler reads zeros, a missing write handler drops the write.
 */
export interface RegionHandlers {
  /** Reads `size` bytes at `offset`: return a number, bigint or bytes (little-endian). */
  read?(offset: number, size: number, dev: DeviceContext): ReadResult | Promise<ReadResult>;
  /** Takes a write of `data` at `offset` (raw little-endian bytes). */
  write?(offset: number, data: Uint8Array, dev: DeviceContext): void | Promise<void>;
}

/** A page-aligned part of a BAR the client may mmap (VFIO_REGION_INFO_CAP_SPARSE_MMAP). */
export interface MmapArea {
  readonly offset: number;
  readonly size: number;
}

/**
 * A BAR: the PCI declaration (kind "io" | "mem32" | "mem64", power-of-two size,
 * prefetchable) plus how its bytes are served.
 *
 * `mmap` backs the whole BAR with shared memory (a memfd): the device reads and writes
 * it through `device.bar(i).memory`, and the client maps it directly. `true` offers
 * the whole BAR to the client (minus the pages holding an MSI-X table or PBA, which
 * the framework must see); a list offers only those areas (the sparse mmap
 * capability), e.g. the doorbell page of an NVMe controller. Accesses that come over
 * the socket hit the same memory, except outside the areas when handlers exist: then
 * the handlers serve them (trapped registers beside mmapped ones).
 */
export type BarDefinition = BarSpec &
  RegionHandlers & {
    readonly mmap?: boolean | readonly MmapArea[];
  };

/** Expansion ROM: its bytes (read-only to the client) or a read handler. */
export interface RomDefinition {
  /** Power of two >= 2 KiB; defaults to `data` rounded up. */
  readonly size?: number;
  readonly data?: Uint8Array;
  /** Reads `size` bytes of the ROM image at `offset`; default: the `data` given. */
  read?(offset: number, size: number, dev: DeviceContext): ReadResult | Promise<ReadResult>;
}

/**
 * A device-specific region (index >= 9), described to the client by the region type
 * capability (type/subtype as in linux/vfio.h, e.g. vendor type 0x80000000 | vendor id).
 */
export interface DeviceRegionDefinition extends RegionHandlers {
  readonly type: number;
  readonly subtype: number;
  readonly size: number | bigint;
  /** Default: read and write allowed. */
  readonly readable?: boolean;
  readonly writable?: boolean;
  /** Back it with shared memory the client may mmap (the whole region). */
  readonly mmap?: boolean;
}

/** Who is connected, for onAttach / logging. */
export interface ClientInfo {
  readonly pid?: number;
  readonly uid?: number;
  /** Negotiated protocol minor version. */
  readonly minor: number;
  readonly maxDataXferSize: number;
  readonly twinSocket: boolean;
}

/** A DMA window as the device sees it. */
export interface DmaWindowInfo {
  readonly iova: bigint;
  readonly size: bigint;
  readonly readable: boolean;
  readonly writable: boolean;
  /** True when the client passed an fd: the window is mmapped and `dma.view` works. */
  readonly mapped: boolean;
}

/**
 * A PCI device declared for createDevice: identity, BARs, ROM, regions, capabilities, and the
 * callbacks the framework calls.
 */
export interface DeviceDefinition {
  /** For logs; default "vfio-ts device". */
  readonly name?: string;
  readonly vendorId: number;
  readonly deviceId: number;
  readonly subsystemVendorId?: number;
  readonly subsystemId?: number;
  /** 24-bit class code: base << 16 | subclass << 8 | prog-if. */
  readonly classCode: number;
  readonly revision?: number;
  /** INTx pin: 0 none, 1..4 INTA#..INTD#. Default 1 (INTA#). */
  readonly interruptPin?: number;
  /** Up to six BARs, indexed by BAR number; the slot after a mem64 BAR stays empty. */
  readonly bars?: readonly (BarDefinition | undefined)[];
  readonly rom?: RomDefinition;
  /** Legacy VGA ranges (region 8): memory 0xa0000-0xbffff and I/O 0x3b0-0x3df. */
  readonly vga?: RegionHandlers;
  /** Device-specific regions, numbered from 9 in this order. */
  readonly regions?: readonly DeviceRegionDefinition[];
  /** PCI capabilities (MSI, MSI-X, PCIe, PM, vendor); MSI-X table/PBA are emulated. */
  readonly capabilities?: readonly CapabilitySpec[];
  /** PCIe extended capabilities (need a "pcie" capability). */
  readonly extendedCapabilities?: readonly ExtCapabilitySpec[];
  /** Offer the ERR interrupt index (AER notification). Default: when PCIe is declared. */
  readonly errIrq?: boolean;
  /** Offer the REQ interrupt index (ask the client to release the device). Default true. */
  readonly reqIrq?: boolean;

  /**
   * Device reset (DEVICE_RESET, or a function-level reset through PCIe). The
   * framework has already restored config space and torn down interrupts, and waited
   * for the device's background tasks (`dev.tasks`) to settle.
   */
  reset?(dev: DeviceContext): void | Promise<void>;
  // While the device is stopped for migration, the callbacks below are held; when it
  // runs again it gets the net of the stopped period, in order (one onCommandChange
  // from the command at the stop; nothing for a window or a client that came and went).

  /** The client changed PCI_COMMAND (memory/io decode, bus master, INTx disable). */
  onCommandChange?(command: number, previous: number, dev: DeviceContext): void;
  /** A client finished version negotiation. */
  onAttach?(client: ClientInfo, dev: DeviceContext): void;
  /** The client disconnected; its DMA windows and eventfds are already gone. */
  onDetach?(dev: DeviceContext): void;
  /** The client mapped a DMA window (it is usable from now on). */
  onDmaMap?(window: DmaWindowInfo, dev: DeviceContext): void;
  /** Called before the window is released; accesses to it fail from now on. */
  onDmaUnmap?(window: DmaWindowInfo, dev: DeviceContext): void;
  /**
   * Live migration. Without it the device does not migrate (DEVICE_FEATURE MIGRATION
   * answers ENOTTY); DMA dirty logging works either way, as the framework sees every
   * DMA write.
   */
  readonly migration?: MigrationDefinition;
}

/**
 * How a device migrates. The framework runs the spec's state machine and carries what
 * it owns (config space, MSI/MSI-X/INTx state, interrupts raised while stopped); the
 * device saves only its own registers and memory.
 *
 * While the device is stopped (STOP, STOP_COPY, RESUMING, ERROR) the framework calls
 * none of its region handlers (the client gets EBUSY), refuses its DMA (EBUSY), holds
 * its interrupts and callbacks and replays them when it runs again. `stop` is where a
 * device pauses or finishes work of its own (timers, queues): it runs while DMA and
 * interrupts still work; the framework then waits for the device's tasks, closes the
 * gate, and waits for DMA still in flight before the STOP is acknowledged.
 */
export interface MigrationDefinition {
  /** Stop-copy: the device's own state, after `stop`. */
  save(dev: DeviceContext): Uint8Array | Promise<Uint8Array>;
  /**
   * On the destination, before it first runs: state from save(). Throw (a VfioError
   * for a chosen errno) to refuse it; the device is then in ERROR until reset.
   */
  load(state: Uint8Array, dev: DeviceContext): void | Promise<void>;
  /** The device leaves RUNNING: pause timers and background work. */
  stop?(dev: DeviceContext): void | Promise<void>;
  /** The device runs again (after load on a destination, or an aborted migration). */
  start?(dev: DeviceContext): void | Promise<void>;
  /**
   * Most bytes of migration data this device takes as a destination; default 256 MiB.
   * Nothing is applied before the stream is whole, so the framework buffers it: this
   * bounds what a client in RESUMING makes the server hold. A MIG_DATA_WRITE beyond it
   * fails with EFBIG and the stream with it. A device whose state can be larger (a
   * memory-backed disk: its pre-copy data, including chunks sent again) raises it.
   */
  readonly maxDataBytes?: number;
  /**
   * Opt in to PRE_COPY: state that can move while the device still runs (memory that
   * changes rarely), in chunks, before the stop-copy.
   */
  readonly precopy?: {
    /**
     * A saving session starts: on entering PRE_COPY, and on entering STOP_COPY from
     * STOP (no pre-copy ran, the device is already stopped). The device notes what it
     * has to send (e.g. every chunk of its memory) and starts tracking what changes
     * after it was sent. Optional.
     */
    begin?(dev: DeviceContext): void | Promise<void>;
    /**
     * The next chunk, at most about `max` bytes; an empty array when there is nothing
     * more for now (the client's read then comes back short).
     */
    read(max: number, dev: DeviceContext): Uint8Array | Promise<Uint8Array>;
    /**
     * Stop-copy: what pre-copy did not send yet (chunks changed since they were sent,
     * chunks never sent), chunk by chunk, at most about `max` bytes each, while the
     * device is stopped; an empty array once all of it was given. The chunks travel as
     * pre-copy chunks, before the device's state, and reach `load` the same way.
     * Optional: without it the stop-copy data is the device's state only.
     */
    remainder?(max: number, dev: DeviceContext): Uint8Array | Promise<Uint8Array>;
    /** On the destination, each chunk read() or remainder() produced, in order, before load(). */
    load(chunk: Uint8Array, dev: DeviceContext): void | Promise<void>;
  };
}

/** A BAR or device-specific region as the device sees it. */
export interface RegionHandle {
  readonly size: number;
  /** The shared memory behind an mmap-backed region (what the client maps). */
  readonly memory: Uint8Array | undefined;
}

/** Where a device reports; the server routes it to its logger (debug only with --verbose). */
export interface DeviceLog {
  /** Reports something the device's client did wrong or that the device could not do. */
  warn(message: string): void;
  /** Reports detail that only `--verbose` shows. */
  debug(message: string): void;
}

/**
 * What every device callback receives: the device as its own code sees it. It holds
 * facades only: DMA goes through the IOMMU and the bus-master check, interrupts
 * through masking and the bus-master check, config writes through the virtualizer.
 * Nothing in it reaches the framework's side (mapping windows, attaching clients).
 */
export interface DeviceContext {
  readonly name: string;
  readonly irq: DeviceIrqs;
  readonly dma: DeviceDma;
  readonly config: DeviceConfig;
  readonly log: DeviceLog;
  /** Background work that does not hold the client's commands (see DeviceTasks). */
  readonly tasks: DeviceTasks;
  /** BAR `index` (0..5). Throws EINVAL for an unimplemented BAR. */
  bar(index: number): RegionHandle;
  /** Device-specific region `index` (>= 9). */
  region(index: number): RegionHandle;
}

/** Interrupts, from the device's side. */
export interface DeviceIrqs {
  /** What the client enabled. */
  readonly mode: "none" | "intx" | "msi" | "msix";
  /**
   * Raise an interrupt on whatever the client enabled: MSI-X or MSI vector `vector`, or
   * (vector 0) an INTx pulse. Masked vectors become pending and are delivered on unmask.
   * While PCI_COMMAND_MASTER is clear an MSI/MSI-X vector is not sent ("blocked").
   */
  trigger(vector?: number): IrqDelivery;
  /** INTx as a level: asserted until deasserted (re-signalled on each unmask meanwhile). */
  readonly intx: {
    /** Raises the INTx line and keeps it up; signalled unless INTx is masked or disabled. */
    assert(): IrqDelivery;
    /** Lowers the INTx line (the device's interrupt condition is gone). */
    deassert(): void;
    readonly asserted: boolean;
  };
  /** Signal the ERR eventfd (AER: the client should check the device's error status). */
  raiseError(): IrqDelivery;
  /** Signal the REQ eventfd (the device wants the client to release it). */
  requestRelease(): IrqDelivery;
  /** True when MSI-X vector `vector` is masked (function mask, table or client). */
  isMasked(vector: number): boolean;
}

/**
 * DMA into the client's memory through the IOMMU windows it mapped. Every access
 * needs PCI_COMMAND_MASTER: while the client has bus mastering off, it fails like an
 * IOMMU fault (BusMasterDisabledError, EFAULT) and is counted in `faults`.
 */
export interface DeviceDma {
  /**
   * Copies `length` bytes from IOVA `iova`. Windows with an fd are read directly; the
   * others through DMA_READ messages to the client. An access outside the mapped
   * windows or against their permissions fails (IommuFaultError, EFAULT) and is
   * counted in `faults`.
   */
  read(iova: bigint | number, length: number, options?: DmaAccessOptions): Promise<Uint8Array>;
  /** Copies `data` to IOVA `iova` (DMA_WRITE messages where the window has no fd). */
  write(iova: bigint | number, data: Uint8Array, options?: DmaAccessOptions): Promise<void>;
  /**
   * A zero-copy view of client memory: only inside one fd-backed window (else EINVAL)
   * mapped writable by us. The view detaches (length 0) once the window is unmapped.
   * `access` is checked against the window's permissions and bus mastering like any
   * DMA, when the view is made: a view kept across a later clear of PCI_COMMAND_MASTER
   * still works until the window is unmapped (a mapping cannot be revoked piecewise),
   * so take views per transfer, not once.
   */
  view(iova: bigint | number, length: number, access?: "read" | "write" | "readwrite"): Uint8Array;
  /**
   * Scatter-gather read: the segments' bytes, concatenated. Every segment is checked
   * against the windows first, so a fault in any of them fails the whole transfer
   * before anything is copied (what a controller's PRP or SGL walk gives).
   */
  readSegments(segments: readonly DmaSegment[], options?: DmaAccessOptions): Promise<Uint8Array>;
  /**
   * Scatter-gather write: `data` spread over the segments in order (their lengths must
   * add up to its length, else EINVAL). Checked in full before any byte is written.
   */
  writeSegments(
    segments: readonly DmaSegment[],
    data: Uint8Array,
    options?: DmaAccessOptions,
  ): Promise<void>;
  /** The current windows, in IOVA order. */
  windows(): DmaWindowInfo[];
  /** IOMMU faults since the device was created. */
  readonly faults: number;
}

/**
 * How one DMA access reaches the client's memory. By default a window the client
 * mapped with an fd is copied directly and only the others go through DMA_READ/
 * DMA_WRITE messages.
 */
export interface DmaAccessOptions {
  /**
   * Send DMA_READ/DMA_WRITE messages even where the window has an fd we mapped, so the
   * client performs the access itself (libvfio-user's sample server does this for
   * some windows; a client may track what it wrote that way). The IOMMU and
   * bus-master checks, the `max_data_xfer_size` chunking and dirty logging are the
   * same either way. Default false.
   */
  readonly messages?: boolean;
}

/** One piece of a scatter-gather transfer: `length` bytes at IOVA `iova`. */
export interface DmaSegment {
  readonly iova: bigint;
  readonly length: number;
}

/**
 * Work a device runs beside the client's command stream. A region handler that
 * returns a promise holds the client's next command until it settles (the spec's
 * ordering); a doorbell that starts file I/O must not. So the handler answers at once
 * and hands the I/O to `run`: the connection keeps going, a failure is logged (the
 * task must report errors to its guest itself, e.g. as a completion status), and a
 * device reset waits for the tasks still running before the device's reset callback.
 */
export interface DeviceTasks {
  /** Starts `task` now (its synchronous part runs before `run` returns). */
  run(task: () => void | Promise<void>, label?: string): void;
  /** Tasks started and not yet settled. */
  readonly pending: number;
  /** Resolves once no task is running (at once when none is). */
  idle(): Promise<void>;
}

/** The device's own view of its config space. */
export interface DeviceConfig {
  readonly command: number;
  readonly status: number;
  /** PCI_COMMAND_MASTER: the client allows the device to DMA. */
  readonly busMaster: boolean;
  /** Reads config space as the client sees it. */
  read(offset: number, size: 1 | 2 | 4): number;
  /**
   * A write by the device (the "hardware" side): only bits the framework does not
   * virtualize change, e.g. error status bits or a vendor capability's payload.
   */
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}
