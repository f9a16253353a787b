// Compares `vfio-ts lspci` rendering with the real lspci, line by line, for this machine's
// PCI devices: each device's config bytes (/sys/bus/pci/devices/*/config) and BAR sizes
// (its resource file) go through our renderer, and the system's lspci prints the same
// device. Prints the lines that differ. A development tool: `npm run build:ts` first;
// needs pciutils (apt-get install pciutils) and root for the full config space.
//   node scripts/lspci-compare.mjs [-v|-vv] [-n|-nn] [-D] [-x|-xxx|-xxxx] [BDF...]
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderLspci } from "../dist/src/cli/lspci/index.js";

const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith("-"));
const wanted = args.filter((a) => !a.startsWith("-"));
const verbose = flags.includes("-vv") ? 2 : flags.includes("-v") ? 1 : 0;
const numeric = flags.includes("-nn") ? 2 : flags.includes("-n") ? 1 : 0;
const domain = flags.includes("-D");
const hex = flags.includes("-xxxx") ? 4 : flags.includes("-xxx") ? 3 : flags.includes("-x") ? 1 : 0;

function sizes(dir) {
  return readFileSync(`${dir}/resource`, "utf8")
    .trim()
    .split("\n")
    .map((line) => {
      const [start, end] = line.split(/\s+/).map((x) => BigInt(x));
      return end > start ? end - start + 1n : 0n;
    });
}

let differing = 0;
for (const bdf of readdirSync("/sys/bus/pci/devices")) {
  if (wanted.length && !wanted.some((w) => bdf.endsWith(w))) continue;
  const dir = `/sys/bus/pci/devices/${bdf}`;
  const res = sizes(dir);
  const slot = bdf;
  const ours = renderLspci(
    {
      config: new Uint8Array(readFileSync(`${dir}/config`)),
      barSizes: res.slice(0, 6),
      romSize: res[6] ?? 0n,
      slot,
    },
    { verbose, numeric, domain, hex, irq: Number(readFileSync(`${dir}/irq`, "utf8")) },
  ).split("\n");
  const theirs = execFileSync("lspci", [...flags, "-s", bdf], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  }).split("\n");
  // diff(1) aligns the two texts, so one missing line shows as one line.
  const tmp = mkdtempSync(join(tmpdir(), "lspci-compare-"));
  writeFileSync(join(tmp, "lspci"), theirs.join("\n"));
  writeFileSync(join(tmp, "vfio-ts"), ours.join("\n"));
  const d = spawnSync("diff", ["-U0", join(tmp, "lspci"), join(tmp, "vfio-ts")], {
    encoding: "utf8",
  });
  rmSync(tmp, { recursive: true });
  const changed = d.stdout
    .split("\n")
    .filter((l) => /^[-+][^-+]/.test(l) || l === "-" || l === "+");
  differing += changed.length;
  if (changed.length) console.log(`${bdf}:\n${changed.map((l) => `  ${l}`).join("\n")}`);
}
console.log(`${differing} differing lines`);
