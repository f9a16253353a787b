/**
 * A small device that migrates, for the protocol tests: a counter register, MSI-X
 * with two vectors, and host-side hooks to make it raise interrupts and DMA whenever
 * the test wants (including while it is stopped, which the framework must hold off).
 */
import type { DeviceContext, DeviceDefinition } from "../../src/server/index.js";

export interface MigratableDeviceOptions {
  readonly deviceId?: number;
  /** Chunks pre-copy hands out, in order, before it runs dry. */
  readonly precopy?: readonly Uint8Array[];
  /** Chunks precopy.remainder gives at stop-copy (with a begin hook that logs "begin"). */
  readonly remainder?: readonly Uint8Array[];
  /** Make load() refuse its state. */
  readonly refuseLoad?: boolean;
  readonly migrates?: boolean;
  /** MigrationDefinition.maxDataBytes. */
  readonly maxDataBytes?: number;
}

export class MigratableDevice {
  readonly definition: DeviceDefinition;
  counter = 0;
  /** The context of the last BAR access: how the host side acts "as the device". */
  dev: DeviceContext | undefined;
  readonly events: string[] = [];
  /** The `previous` of each onCommandChange. */
  readonly commandFrom: number[] = [];
  readonly precopyLoaded: Uint8Array[] = [];
  #precopy: Uint8Array[];
  #remainder: Uint8Array[] = [];

  constructor(options: MigratableDeviceOptions = {}) {
    this.#precopy = [...(options.precopy ?? [])];
    this.definition = {
      name: "migratable",
      vendorId: 0x1b36,
      deviceId: options.deviceId ?? 0x7001,
      classCode: 0xff0000,
      bars: [
        {
          kind: "mem32",
          size: 4096,
          read: (offset, _size, dev) => {
            this.dev = dev;
            return offset === 0 ? this.counter : 0;
          },
          write: (offset, data, dev) => {
            this.dev = dev;
            if (offset === 0)
              this.counter = new DataView(data.buffer, data.byteOffset).getUint32(0, true);
          },
        },
      ],
      capabilities: [
        {
          kind: "msix",
          tableSize: 2,
          tableBar: 0,
          tableOffset: 0x800,
          pbaBar: 0,
          pbaOffset: 0xc00,
        },
      ],
      onCommandChange: (command, previous) => {
        this.events.push(`command 0x${command.toString(16)}`);
        this.commandFrom.push(previous);
      },
      onAttach: () => this.events.push("attach"),
      onDetach: () => this.events.push("detach"),
      onDmaMap: (w) => this.events.push(`map 0x${w.iova.toString(16)}`),
      onDmaUnmap: (w) => this.events.push(`unmap 0x${w.iova.toString(16)}`),
      migration:
        options.migrates === false
          ? undefined
          : {
              ...(options.maxDataBytes === undefined ? {} : { maxDataBytes: options.maxDataBytes }),
              save: () => {
                this.events.push("save");
                return Uint8Array.of(this.counter & 0xff, (this.counter >>> 8) & 0xff, 0xa5);
              },
              load: (state) => {
                this.events.push("load");
                if (options.refuseLoad || state.byteLength !== 3 || state[2] !== 0xa5) {
                  throw new Error("not my state");
                }
                this.counter = state[0]! | (state[1]! << 8);
              },
              stop: () => {
                this.events.push("stop");
              },
              start: () => {
                this.events.push("start");
              },
              precopy: options.precopy
                ? {
                    read: () => this.#precopy.shift() ?? new Uint8Array(0),
                    load: (chunk) => {
                      this.precopyLoaded.push(chunk);
                    },
                    ...(options.remainder
                      ? {
                          begin: () => {
                            this.events.push("begin");
                            this.#remainder = [...options.remainder!];
                          },
                          remainder: () => {
                            this.events.push("remainder");
                            return this.#remainder.shift() ?? new Uint8Array(0);
                          },
                        }
                      : {}),
                  }
                : undefined,
            },
    };
  }
}
