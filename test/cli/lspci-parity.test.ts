/**
 * Our lspci rendering against the real lspci (pciutils 3.9.0), line by line, for a real
 * device: the config bytes, sysfs resource sizes and `lspci` output of this development
 * VM's virtio-net (00:03.0) were captured into test/fixtures/lspci/. Every line is equal
 * except the ones listed here, which are the known differences (scripts/lspci-compare.mjs
 * redoes the comparison for a machine's own devices).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { renderLspci } from "../../src/cli/lspci/index.js";

const dir = fileURLToPath(new URL("../../../test/fixtures/lspci/", import.meta.url));
const text = (name: string) => readFileSync(`${dir}${name}`, "utf8");

const config = Uint8Array.from(
  Buffer.from(text("virtio-net.config.hex").replace(/\s/g, ""), "hex"),
);
const sizes = text("virtio-net.resource")
  .trim()
  .split("\n")
  .map((l) => {
    const [start, end] = l.split(/\s+/).map((x) => BigInt(x)) as [bigint, bigint];
    return end > start ? end - start + 1n : 0n;
  });
const device = {
  config,
  barSizes: sizes.slice(0, 6),
  romSize: sizes[6] ?? 0n,
  slot: "0000:00:03.0",
};

/**
 * Known differences: pciutils decodes VirtIO's vendor-specific capabilities (we print
 * their length only) and reads the kernel driver from sysfs (our -k line names the
 * vfio-user server instead).
 */
function withoutKnownDifferences(lines: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.startsWith("\tKernel driver in use:")) continue;
    if (l.includes("Vendor Specific Information")) {
      out.push(l.replace(/Vendor Specific Information: .*/, "Vendor Specific Information"));
      if (lines[i + 1]?.startsWith("\t\tBAR=")) i++;
      continue;
    }
    out.push(l);
  }
  return out;
}

describe("lspci parity with pciutils on a captured real device", () => {
  it("-vv -n -xxx: equal apart from the listed differences", () => {
    const ours = renderLspci(device, { verbose: 2, numeric: 1, hex: 3 }).split("\n");
    const theirs = text("virtio-net.lspci-vv-n-xxx.txt").split("\n");
    assert.deepEqual(withoutKnownDifferences(ours), withoutKnownDifferences(theirs));
    assert.ok(theirs.length > 30, "the fixture is the full output");
  });

  it("-nn and -D summary lines (names from our table; pciutils has pci.ids)", () => {
    const nn = renderLspci(device, { numeric: 2 });
    // pci.ids names the device "Virtio 1.0 network device"; without it, lspci says "Device".
    assert.equal(
      nn,
      text("virtio-net.lspci-nn.txt").replace("Virtio 1.0 network device", "Device"),
    );
    const d = renderLspci(device, { domain: true });
    assert.equal(
      d,
      text("virtio-net.lspci-D.txt").replace("Virtio 1.0 network device", "Device 1041"),
    );
  });
});
