/**
 * The host side of `vfio-ts serve --verbose`: lines typed on stdin act on the device
 * model the way the outside world would (a signal on a GPIO input), and what the model
 * does towards the outside (a GPIO output) is printed. A test drives it through a pipe.
 */
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { PciIdio16 } from "../devices/index.js";

export interface HostConsole {
  close(): void;
}

const GPIO_HELP = [
  "commands: in LINE 0|1   set input LINE (0-15)",
  "          inputs MASK   set all 16 inputs (e.g. 0xffff)",
  "          show          print inputs, outputs and the interrupt state",
  "          help",
].join("\n");

const hex4 = (v: number) => `0x${v.toString(16).padStart(4, "0")}`;

/**
 * Starts the console for `control` if this device has host-side controls; returns
 * undefined otherwise (nothing to read from stdin).
 */
export function startHostConsole(
  control: unknown,
  input: Readable,
  print: (line: string) => void,
): HostConsole | undefined {
  if (!(control instanceof PciIdio16)) return undefined;
  const gpio = control;
  const onOutputs = (now: number, prev: number) =>
    print(`gpio: outputs ${hex4(prev)} -> ${hex4(now)}`);
  gpio.on("outputs", onOutputs);
  print(`gpio: host console ready; ${GPIO_HELP.split("\n")[0]!.slice(10)} (type help)`);

  const rl = createInterface({ input, terminal: false });
  rl.on("line", (raw) => {
    const [cmd, ...args] = raw.trim().split(/\s+/);
    try {
      switch (cmd) {
        case "":
        case undefined:
          return;
        case "in": {
          const line = Number(args[0]);
          const level = args[1];
          if (level !== "0" && level !== "1") throw new Error("usage: in LINE 0|1");
          gpio.setInput(line, level === "1");
          print(`gpio: inputs ${hex4(gpio.inputs)}`);
          return;
        }
        case "inputs": {
          const mask = Number(args[0]);
          if (args[0] === undefined || !Number.isInteger(mask))
            throw new Error("usage: inputs MASK");
          gpio.setInputs(mask);
          print(`gpio: inputs ${hex4(gpio.inputs)}`);
          return;
        }
        case "show":
          print(
            `gpio: inputs ${hex4(gpio.inputs)} outputs ${hex4(gpio.outputs)} ` +
              `irq ${gpio.irqEnabled ? "enabled" : "disabled"}${gpio.irqAsserted ? ", asserted" : ""}`,
          );
          return;
        case "help":
          print(GPIO_HELP);
          return;
        default:
          throw new Error(`unknown command "${cmd}" (type help)`);
      }
    } catch (err) {
      print(`gpio: ${(err as Error).message}`);
    }
  });
  return {
    close() {
      gpio.off("outputs", onOutputs);
      rl.close();
    },
  };
}
