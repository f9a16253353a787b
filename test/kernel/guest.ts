/**
 * Boots a throw-away Linux guest for tests that need a real kernel: QEMU's q35 with an
 * emulated Intel IOMMU and QEMU's own edu device, the Debian kernel from
 * kernel-package.ts, and an initramfs from guest-image.ts. The guest runs one script as
 * root and powers off; the serial console comes back as text.
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildGuestImage, kernelFiles } from "./guest-image.js";
import { cachedKernel, fetchKernel } from "./kernel-package.js";

export const PROJECT_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface GuestTools {
  readonly qemu: string;
  readonly busybox: string;
  readonly lspci: string;
  readonly kernelRoot: string;
}

function which(cmd: string): string | undefined {
  try {
    return (
      execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

/**
 * What booting a guest needs, or the one sentence saying what is missing. The kernel
 * is fetched into the cache when apt can get it.
 */
export function findGuestTools(): GuestTools | string {
  const qemu = which("qemu-system-x86_64");
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => which(p) !== undefined);
  const lspci = which("lspci");
  const missing = [
    qemu === undefined ? "qemu-system-x86" : undefined,
    busybox === undefined ? "busybox-static" : undefined,
    lspci === undefined ? "pciutils" : undefined,
  ].filter((m) => m !== undefined);
  if (missing.length > 0)
    return `install ${missing.join(", ")} (apt-get install ${missing.join(" ")})`;
  let kernelRoot = cachedKernel();
  if (kernelRoot === undefined) {
    try {
      kernelRoot = fetchKernel();
    } catch (err) {
      return `no guest kernel: ${(err as Error).message}`;
    }
  }
  return { qemu: qemu!, busybox: busybox!, lspci: lspci!, kernelRoot };
}

export interface BootOptions {
  /** The script /init runs as root, in /project. */
  readonly script: string;
  /** Extra QEMU arguments (more devices). */
  readonly qemuArgs?: readonly string[];
  /** Kill the guest after this long; default 10 minutes. */
  readonly timeoutMs?: number;
}

export interface GuestRun {
  /** The serial console. */
  readonly console: string;
  /** What QEMU itself printed (its IOMMU fault reports land here). */
  readonly qemuStderr: string;
  readonly durationMs: number;
}

/**
 * "kvm" only when asked (VFIO_TS_GUEST_ACCEL=kvm): nested KVM on the project's VMs
 * refuses QEMU 7.2's MSRs or hangs, while TCG boots this guest in about 15 s.
 */
function accel(): string[] {
  return process.env.VFIO_TS_GUEST_ACCEL === "kvm"
    ? ["-accel", "kvm", "-cpu", "host,-arch-capabilities", "-machine", "q35,kernel-irqchip=split"]
    : ["-accel", "tcg", "-machine", "q35"];
}

export async function bootGuest(tools: GuestTools, options: BootOptions): Promise<GuestRun> {
  const dir = mkdtempSync(join(tmpdir(), "vfio-ts-guest-"));
  try {
    const initrd = join(dir, "initrd.cpio");
    const fd = openSync(initrd, "w");
    try {
      const chunks = buildGuestImage({
        kernelRoot: tools.kernelRoot,
        projectRoot: PROJECT_ROOT,
        script: options.script,
        busybox: tools.busybox,
        lspci: tools.lspci,
      });
      for (const c of chunks) writeSync(fd, c);
    } finally {
      closeSync(fd);
    }
    const intremap = process.env.VFIO_TS_GUEST_ACCEL === "kvm" ? ",intremap=on" : "";
    const args = [
      ...accel(),
      "-device",
      `intel-iommu${intremap}`,
      "-device",
      "edu,addr=03.0",
      ...(options.qemuArgs ?? []),
      "-m",
      "1G",
      "-smp",
      "2",
      "-nographic",
      "-no-reboot",
      "-kernel",
      kernelFiles(tools.kernelRoot).vmlinuz,
      "-initrd",
      initrd,
      "-append",
      "console=ttyS0 intel_iommu=on iommu=nopt panic=-1 quiet loglevel=1",
    ];
    return await runQemu(tools.qemu, args, options.timeoutMs ?? 600_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runQemu(qemu: string, args: string[], timeoutMs: number): Promise<GuestRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(qemu, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      err += d;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the guest ran past ${timeoutMs} ms; console so far:\n${out.slice(-4000)}`));
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`qemu exited with ${code}: ${err.slice(-2000)}\n${out.slice(-2000)}`));
        return;
      }
      resolve({ console: out, qemuStderr: err, durationMs: Date.now() - started });
    });
  });
}
