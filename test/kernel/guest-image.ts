/**
 * The test guest's initramfs: busybox, the host's own node binary and the shared
 * libraries it loads, the real lspci, the kernel's VFIO modules, the built project,
 * two users (root, and `driver` and `other` without privileges), and an /init that
 * loads the modules, runs the test's script as root and powers off.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { type CpioEntry, cpioNewc } from "./cpio.js";

/** Printed by /init after the script, with its exit status. */
export const EXIT_MARKER = "@@vfio-ts-guest@@ exit";

/** Loaded in this order (each needs the ones before it); absent ones are skipped. */
const MODULES = [
  "virt/lib/irqbypass",
  "drivers/vfio/vfio",
  "drivers/vfio/vfio_iommu_type1",
  "drivers/vfio/vfio_virqfd",
  "drivers/vfio/pci/vfio-pci-core",
  "drivers/vfio/pci/vfio-pci",
];

const INIT = `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
for m in $(cat /mods/order); do insmod /mods/$m.ko || echo "vfio-ts-guest: insmod $m failed"; done
cd /project
sh /guest/run.sh
echo "${EXIT_MARKER} $?"
poweroff -f
`;

const PASSWD = `root:x:0:0:root:/root:/bin/sh
driver:x:1000:1000:driver:/tmp:/bin/sh
other:x:1001:1001:other:/tmp:/bin/sh
`;
const GROUP = "root:x:0:\ndriver:x:1000:\nother:x:1001:\n";

export interface GuestImageInputs {
  /** The unpacked kernel package (its root: boot/, lib/modules/). */
  readonly kernelRoot: string;
  /** The project whose dist/, build/ and production node_modules go in. */
  readonly projectRoot: string;
  /** The script /init runs as root, from /project. */
  readonly script: string;
  readonly busybox: string;
  readonly lspci: string;
}

/** The kernel image and the modules' version directory of an unpacked package. */
export function kernelFiles(kernelRoot: string): { vmlinuz: string; modules: string } {
  const boot = join(kernelRoot, "boot");
  const vmlinuz = readdirSync(boot).find((f) => f.startsWith("vmlinuz-"));
  if (vmlinuz === undefined) throw new Error(`no vmlinuz in ${boot}`);
  const version = vmlinuz.slice("vmlinuz-".length);
  return { vmlinuz: join(boot, vmlinuz), modules: join(kernelRoot, "lib/modules", version) };
}

/** Every shared object `ldd` says `binary` loads, the dynamic loader included. */
function sharedLibraries(binary: string): string[] {
  const out = execFileSync("ldd", [binary], { encoding: "utf8" });
  const libs: string[] = [];
  for (const line of out.split("\n")) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1] !== undefined) libs.push(m[1]);
  }
  return libs;
}

class ImageBuilder {
  readonly entries: CpioEntry[] = [];
  readonly #dirs = new Set<string>();

  dir(path: string): void {
    const parts = path.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join("/");
      if (this.#dirs.has(p)) continue;
      this.#dirs.add(p);
      this.entries.push({ kind: "dir", path: p });
    }
  }

  file(path: string, data: Uint8Array | string, mode = 0o644): void {
    this.dir(dirname(path));
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    this.entries.push({ kind: "file", path, data: bytes, mode });
  }

  /** A host file at the same path (symlinks resolved), keeping its exec bits. */
  hostFile(path: string, as = path): void {
    this.file(as, readFileSync(path), statSync(path).mode & 0o777);
  }

  symlink(path: string, target: string): void {
    this.dir(dirname(path));
    this.entries.push({ kind: "symlink", path, target });
  }

  /** A host directory tree under `as`, skipping what `skip` refuses. */
  tree(from: string, as: string, skip: (rel: string) => boolean = () => false): void {
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const full = join(dir, name);
        const rel = relative(from, full);
        if (skip(rel)) continue;
        const st = statSync(full);
        if (st.isDirectory()) walk(full);
        else this.file(join(as, rel), readFileSync(full), st.mode & 0o777);
      }
    };
    walk(from);
  }
}

function addBusybox(b: ImageBuilder, busybox: string): void {
  b.hostFile(busybox, "bin/busybox");
  const applets = execFileSync(busybox, ["--list"], { encoding: "utf8" }).split("\n");
  for (const a of applets) {
    if (a !== "" && a !== "busybox") b.symlink(`bin/${a}`, "busybox");
  }
  b.symlink("sbin", "bin");
}

function addBinary(b: ImageBuilder, binary: string, as: string): void {
  b.hostFile(binary, as);
  for (const lib of sharedLibraries(binary)) b.hostFile(lib, lib.replace(/^\//, ""));
}

function addModules(b: ImageBuilder, modulesDir: string): void {
  const order: string[] = [];
  for (const m of MODULES) {
    const base = join(modulesDir, "kernel", m);
    const name = m.split("/").at(-1)!;
    if (existsSync(`${base}.ko`)) {
      b.hostFile(`${base}.ko`, `mods/${name}.ko`);
    } else if (existsSync(`${base}.ko.xz`)) {
      b.file(`mods/${name}.ko`, execFileSync("xz", ["-dc", `${base}.ko.xz`]));
    } else {
      continue;
    }
    order.push(name);
  }
  b.file("mods/order", `${order.join("\n")}\n`);
}

/** dist/src, the guest tests, the addon, package.json, the runtime dependencies and fast-check. */
function addProject(b: ImageBuilder, root: string): void {
  b.hostFile(join(root, "package.json"), "project/package.json");
  b.tree(join(root, "dist/src"), "project/dist/src", (rel) => rel.endsWith(".map"));
  b.tree(join(root, "dist/test/kernel/guest"), "project/dist/test/kernel/guest", (rel) =>
    rel.endsWith(".map"),
  );
  b.hostFile(
    join(root, "build/Release/vfio_native.node"),
    "project/build/Release/vfio_native.node",
  );
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  for (const dep of [...Object.keys(pkg.dependencies ?? {}), ...GUEST_TEST_MODULES]) {
    b.tree(join(root, "node_modules", dep), `project/node_modules/${dep}`);
  }
}

/** Development modules the guest tests themselves import: fast-check and its dependency. */
const GUEST_TEST_MODULES = ["fast-check", "pure-rand"];

/** The initramfs as chunks, ready to be written to a file. */
export function buildGuestImage(inputs: GuestImageInputs): Uint8Array[] {
  const b = new ImageBuilder();
  for (const d of ["proc", "sys", "dev", "tmp", "root", "etc"]) b.dir(d);
  addBusybox(b, inputs.busybox);
  addBinary(b, process.execPath, "bin/node");
  addBinary(b, inputs.lspci, "usr/bin/lspci");
  const ids = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"].find((p) => existsSync(p));
  if (ids !== undefined) b.hostFile(ids, "usr/share/misc/pci.ids");
  addModules(b, kernelFiles(inputs.kernelRoot).modules);
  addProject(b, inputs.projectRoot);
  b.file("etc/passwd", PASSWD);
  b.file("etc/group", GROUP);
  b.file("init", INIT, 0o755);
  b.file("guest/run.sh", inputs.script, 0o755);
  return cpioNewc(b.entries);
}
