/** Where things are in the test guest (see test/kernel/guest-script.ts for how it is set up). */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The built CLI, three levels up from dist/test/kernel/guest. */
export const CLI = fileURLToPath(new URL("../../../src/cli/main.js", import.meta.url));

/** PCI addresses of every device with this vendor:device id, sorted. */
export function findPci(vendor: number, device: number): string[] {
  const root = "/sys/bus/pci/devices";
  const read = (a: string, f: string) =>
    Number.parseInt(readFileSync(`${root}/${a}/${f}`, "utf8"), 16);
  return readdirSync(root)
    .filter((a) => read(a, "vendor") === vendor && read(a, "device") === device)
    .sort();
}

/** The edu device the guest script bound to vfio-pci and handed to us. */
export function eduAddress(): string {
  const found = process.env.VFIO_TS_EDU;
  if (found === undefined) throw new Error("VFIO_TS_EDU is not set by the guest script");
  return found;
}
