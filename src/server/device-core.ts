import { VfioError } from "../errors.js";
import {
  buildConfigSpace,
  type ConfigEvent,
  ConfigSpace,
  PCI_CAP_ID_EXP,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
} from "../pci/index.js";
import type { ClientInfo, DeviceContext, DeviceDefinition } from "./device.js";
import { makeDeviceContext } from "./device-context.js";
import { deviceDmaFacade } from "./device-dma.js";
import { TaskSet } from "./device-tasks.js";
import { DmaController } from "./dma.js";
import { type EventFdWrapper, IrqController } from "./irqs/irq-controller.js";
import type { VectorRegisters } from "./irqs/vectors.js";
import { type HeldEvent, HeldEvents } from "./migration/held-events.js";
import { MigrationController } from "./migration/migration-controller.js";
import type { DecodeState } from "./mmio-gate.js";
import { MsixTable } from "./msix-table.js";
import { type BuiltRegions, buildRegions, romSizeOf } from "./regions/build.js";
import type { Region } from "./regions/region.js";
import type { SharedMemory } from "./regions/shared-memory.js";

/** Where the core reports what it cannot report to a client. */
export interface CoreLog {
  warn(message: string): void;
  debug(message: string): void;
}

/**
 * Everything that makes up one device and outlives client connections: config space,
 * regions and their memory, MSI-X table/PBA, interrupt and DMA state. The session
 * drives it; the public PciDevice wraps it.
 */
export class DeviceCore {
  readonly def: DeviceDefinition;
  readonly name: string;
  readonly config: ConfigSpace;
  readonly regions: readonly Region[];
  readonly irqs: IrqController;
  /** The framework's side of DMA (attach, map, unmap); device code gets `context.dma`. */
  readonly dma: DmaController;
  /** What every device callback receives. */
  readonly context: DeviceContext;
  readonly msixTable: MsixTable | undefined;
  /** Live migration state; also what quiesces the device while it is stopped. */
  readonly migration: MigrationController;
  /** The device's background tasks (DeviceContext.tasks). */
  readonly tasks: TaskSet;
  readonly #memories: readonly (SharedMemory | undefined)[];
  /** Window and client events a stopped device is owed. */
  readonly #held = new HeldEvents();
  readonly #built: BuiltRegions;
  log: CoreLog = { warn: () => {}, debug: () => {} };

  constructor(def: DeviceDefinition, eventfds: EventFdWrapper) {
    this.def = def;
    this.name = def.name ?? "vfio-ts device";
    this.config = makeConfig(def);
    this.tasks = new TaskSet((label, err) =>
      this.log.warn(`${this.name}: ${label} failed: ${(err as Error)?.message ?? err}`),
    );
    const msix = this.config.msix();
    this.msixTable = msix ? new MsixTable(msix.tableSize) : undefined;
    this.irqs = new IrqController({
      caps: {
        intxPin: def.interruptPin ?? 1,
        msiVectors: this.config.msi()?.capableVectors ?? 0,
        msixVectors: msix?.tableSize ?? 0,
        err: def.errIrq ?? this.config.findCapability(PCI_CAP_ID_EXP) !== undefined,
        req: def.reqIrq ?? true,
      },
      eventfds,
      msixTable: this.msixTable,
      msiRegisters: this.#msiRegisters(),
      onIntxAsserted: (a) => this.config.setIntxAsserted(a),
      busMaster: () => this.config.busMasterEnabled,
    });
    this.irqs.setIntxDisabled(this.config.intxDisabled);
    this.dma = new DmaController({
      onMap: (w) => this.#event({ kind: "map", window: w }),
      onUnmap: (w) => this.#event({ kind: "unmap", window: w }),
      onFault: (e) => this.log.warn(e.message),
    });
    const dmaFacade = deviceDmaFacade(this.dma, {
      busMaster: () => this.config.busMasterEnabled,
      running: () => this.migration.running,
      onFault: (e) => this.log.warn(`${this.name}: ${e.message}`),
    });
    this.context = makeDeviceContext(this, dmaFacade);
    this.migration = new MigrationController(
      {
        name: this.name,
        config: this.config,
        msixTable: this.msixTable,
        irqs: this.irqs,
        context: this.context,
        dmaIdle: () => this.dma.idle(),
        tasksIdle: () => this.tasks.idle(),
        commandChanged: (command, previous) =>
          this.#callback("onCommandChange", () =>
            def.onCommandChange?.(command, previous, this.context),
          ),
        deliverHeld: () => {
          for (const e of this.#held.take()) this.#deliver(e);
        },
        log: { warn: (m) => this.log.warn(m), debug: (m) => this.log.debug(m) },
      },
      def.migration,
    );
    // One live view of the decode state, asked on every gated access (no object per access).
    const config = this.config;
    const decodeState: DecodeState = {
      get command() {
        return config.command;
      },
      get d3hot() {
        return config.powerState === 3;
      },
    };
    this.#built = buildRegions(def, {
      device: this.context,
      decode: () => decodeState,
      config: {
        size: this.config.size,
        read: (o, n) => this.config.read(o, n),
        write: (o, d) => this.configWrite(o, d),
      },
      msix:
        msix && this.msixTable ? { state: msix, ...this.#msixAccess(this.msixTable) } : undefined,
    });
    this.regions = this.#built.regions;
    this.#memories = this.#built.barMemory;
  }

  /** Shared memory backing BAR `index`, if it is mmap-backed. */
  barMemory(index: number): SharedMemory | undefined {
    return this.#memories[index];
  }

  regionMemory(index: number): SharedMemory | undefined {
    return this.#built.regionMemory.get(index);
  }

  region(index: number): Region | undefined {
    return Number.isInteger(index) && index >= 0 ? this.regions[index] : undefined;
  }

  /**
   * A client write to config space, then whatever the framework must do about it.
   * Synchronous unless the write resets the function (the device's reset may be async).
   */
  configWrite(offset: number, data: Uint8Array): void | Promise<void> {
    const events = this.config.write(offset, data);
    let reset = false;
    for (const e of events) reset = this.#onConfigEvent(e) || reset;
    if (reset) return this.reset("function level reset");
  }

  /**
   * Device reset: config space back to its initial image (the command register with
   * decode enabled, as vfio-pci hands devices over), interrupts torn down, the MSI-X
   * table at reset values, then the device's own reset callback.
   */
  async reset(why = "DEVICE_RESET"): Promise<void> {
    this.log.debug(`${this.name}: reset (${why})`);
    // While stopped the device heard of no command change: it knows the one at its stop.
    const previous = this.migration.commandKnownToDevice(this.config.command);
    const wasStopped = this.migration.reset();
    // The windows outlive a device reset (they are the client's, as IOMMU mappings are):
    // a device reset while stopped still learns, after its reset, of those that came
    // and went meanwhile.
    const held = this.#held.take();
    this.config.reset();
    this.irqs.resetDevice();
    this.irqs.setIntxDisabled(this.config.intxDisabled);
    await this.tasks.idle();
    if (this.def.reset) {
      try {
        await this.def.reset(this.context);
      } catch (err) {
        throw new VfioError(
          "EIO",
          `${this.name}: reset callback failed: ${(err as Error)?.message ?? err}`,
          {
            cause: err,
          },
        );
      }
    }
    if (wasStopped) await this.migration.startDevice();
    for (const e of held) this.#deliver(e);
    if (previous !== this.config.command) {
      this.#callback("onCommandChange", () =>
        this.def.onCommandChange?.(this.config.command, previous, this.context),
      );
    }
  }

  close(): void {
    for (const m of this.#memories) m?.close();
    for (const m of this.#built.regionMemory.values()) m.close();
  }

  /** Returns true when the event asks for a function reset. */
  #onConfigEvent(e: ConfigEvent): boolean {
    switch (e.kind) {
      case "command":
        this.log.debug(
          `${this.name}: COMMAND 0x${e.previous.toString(16)} -> 0x${e.value.toString(16)}`,
        );
        this.irqs.setIntxDisabled((e.value & PCI_COMMAND_INTX_DISABLE) !== 0);
        if ((e.value & ~e.previous & PCI_COMMAND_MASTER) !== 0) this.irqs.busMasterEnabled();
        // A stopped device hears of the change once, from the command at its stop to
        // the one it runs with (MigrationController's release), not once per write.
        if (this.migration.running) {
          this.#callback("onCommandChange", () =>
            this.def.onCommandChange?.(e.value, e.previous, this.context),
          );
        }
        return false;
      case "msi":
        this.irqs.msiMaskChanged();
        return false;
      case "msix":
        this.irqs.setMsixFunctionMask(e.state.functionMask);
        return false;
      case "flr":
        return true;
      case "power":
        // D3hot -> D0 without No_Soft_Reset is an internal reset (PCI PM 1.2, 5.4.1).
        return e.previous === 3 && e.state === 0 && !e.noSoftReset;
      default:
        return false;
    }
  }

  #msiRegisters(): VectorRegisters | undefined {
    const msi = this.config.msi();
    if (!msi?.perVectorMask) return undefined;
    return {
      isMasked: (v) => this.config.msiMasked(v),
      isPending: (v) => this.config.msiPending(v),
      setPending: (v, p) => this.config.setMsiPending(v, p),
    };
  }

  #msixAccess(table: MsixTable) {
    return {
      readTable: (o: number, n: number) => table.readTable(o, n),
      writeTable: (o: number, d: Uint8Array) => this.irqs.msixTableWritten(table.writeTable(o, d)),
      readPba: (o: number, n: number) => table.readPba(o, n),
    };
  }

  /** A client finished VERSION (onAttach; held while the device is stopped). */
  clientAttached(client: ClientInfo): void {
    this.#event({ kind: "attach", client });
  }

  /** The client left, its windows already unmapped (onDetach; held while stopped). */
  clientDetached(): void {
    this.#event({ kind: "detach" });
  }

  /**
   * A DMA window or a client came or went. A stopped device is told when it runs
   * again (or is reset), with what came and went meanwhile cancelled (HeldEvents).
   */
  #event(e: HeldEvent): void {
    if (this.migration.running) this.#deliver(e);
    else this.#held.hold(e);
  }

  #deliver(e: HeldEvent): void {
    const def = this.def;
    const dev = this.context;
    switch (e.kind) {
      case "map":
        this.#callback("onDmaMap", () => def.onDmaMap?.(e.window, dev));
        break;
      case "unmap":
        this.#callback("onDmaUnmap", () => def.onDmaUnmap?.(e.window, dev));
        break;
      case "attach":
        this.#callback("onAttach", () => def.onAttach?.(e.client, dev));
        break;
      case "detach":
        this.#callback("onDetach", () => def.onDetach?.(dev));
        break;
    }
  }

  /**
   * Device callbacks must not break the framework: failures are logged. Callers hold
   * them while the device is stopped (HeldEvents, MigrationController's release).
   */
  #callback(name: string, f: () => void): void {
    try {
      f();
    } catch (err) {
      this.log.warn(`${this.name}: ${name} callback threw: ${(err as Error)?.message ?? err}`);
    }
  }
}

/**
 * Builds config space with the command register's decode bits set for the resources
 * the device has: vfio-pci hands devices over enabled, and a reset restores that.
 */
function makeConfig(def: DeviceDefinition): ConfigSpace {
  const image = buildConfigSpace({
    vendorId: def.vendorId,
    deviceId: def.deviceId,
    subsystemVendorId: def.subsystemVendorId,
    subsystemId: def.subsystemId,
    classCode: def.classCode,
    revision: def.revision,
    interruptPin: def.interruptPin ?? 1,
    bars: def.bars?.map(
      (b) =>
        b && {
          kind: b.kind,
          size: b.size,
          prefetchable: "prefetchable" in b ? b.prefetchable : undefined,
        },
    ),
    rom: def.rom ? { size: romSizeOf(def.rom) } : undefined,
    capabilities: def.capabilities,
    extendedCapabilities: def.extendedCapabilities,
  });
  let command = 0;
  for (const b of image.bars)
    if (b) command |= b.kind === "io" ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
  if (image.rom) command |= PCI_COMMAND_MEMORY;
  if (def.vga) command |= PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
  image.bytes[PCI_COMMAND] = command;
  return new ConfigSpace(image);
}
