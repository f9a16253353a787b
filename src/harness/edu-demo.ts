import { fileURLToPath } from "node:url";
import { type DeviceHandle, openLoopback, VfioUserClient } from "../client/index.js";
import { openKernelDevice } from "../client/kernel/open-device.js";
import { instantiateBuiltinDevice } from "../devices/index.js";
import { type DmaRoundTrip, dmaRoundTrip, type EduDmaPath } from "../drivers/edu/dma-roundtrip.js";
import { EduDriver, type EduIdentity } from "../drivers/edu/driver.js";
import type { EduIrqCounts, EduIrqMode } from "../drivers/edu/interrupts.js";
import { DMA_BUF_SIZE, EDU_BAR, REG_ID } from "../drivers/edu/regs.js";
import { type LatencySummary, measureLatency } from "../drivers/latency.js";
import { hexDigits as hex } from "../hex.js";
import { ServerProcess } from "./server-process.js";

/** The serve-edu entry compiled next to this file. */
export const SERVE_EDU_ENTRY = fileURLToPath(new URL("./serve-edu.js", import.meta.url));

export interface DemoOptions {
  /** Socket to serve on; default a fresh temp dir. */
  socketPath?: string;
  /** Interrupt to use; default "auto" (MSI). */
  irqMode?: EduIrqMode;
  /** Factorials to compute; default 0..12. */
  factorials?: readonly number[];
  /** Bytes to DMA each way (1..4096); default 4096. */
  dmaBytes?: number;
  /** BAR reads timed for the latency summary; default 1000. */
  latencyIterations?: number;
  /**
   * Untimed BAR reads first; default twice latencyIterations. Both processes' JITs
   * optimise the path only after some thousands of runs; cold, a read takes several
   * times as long.
   */
  latencyWarmup?: number;
  /** Progress lines, as they happen. */
  log?: (line: string) => void;
  /** Node options for the server process, e.g. ["--cpu-prof"]. */
  serverNodeArgs?: readonly string[];
}

export interface FactorialResult {
  readonly n: number;
  /** What the device computed. */
  readonly value: number;
  /** n! mod 2^32, computed here. */
  readonly expected: number;
}

export interface DemoReport {
  /** Which backend the same driver ran over. */
  readonly backend: "vfio-user" | "loopback" | "kernel";
  /** Where the device was, for the report's first line. */
  readonly where: string;
  /** vfio-user only: the server's socket and process. */
  readonly socketPath?: string;
  readonly serverPid?: number;
  readonly identity: EduIdentity;
  readonly irqMode: "msi" | "intx";
  readonly liveness: boolean;
  readonly factorials: readonly FactorialResult[];
  /**
   * A round trip through a container buffer (fd), and over a socket one through
   * DMA_READ/WRITE (message): the kernel maps memory by address and has no messages.
   */
  readonly dma: readonly DmaRoundTrip[];
  readonly interrupts: EduIrqCounts;
  /** 4-byte reads of BAR0's identification register. */
  readonly barReadLatency: LatencySummary;
  readonly durationMs: number;
}

/** What driving the device found, whatever the backend. */
type DriveResult = Omit<
  DemoReport,
  "backend" | "where" | "socketPath" | "serverPid" | "durationMs"
>;

/**
 * The demo proper: the edu driver of src/drivers/edu, unchanged, on an open device of
 * any backend: probe, liveness, factorials, DMA round trips, BAR read latency.
 */
async function driveEdu(
  device: DeviceHandle,
  options: DemoOptions,
  paths: readonly EduDmaPath[],
): Promise<DriveResult> {
  const log = options.log ?? (() => {});
  const driver = await EduDriver.open(device, { irqMode: options.irqMode ?? "auto" });
  try {
    const id = driver.identity;
    log(
      `probed edu ${hex(id.vendorId, 4)}:${hex(id.deviceId, 4)} rev ${id.revision}, id register 0x${hex(id.idRegister, 8)}, ${driver.irqMode}`,
    );
    const liveness = await driver.checkLiveness();
    log(`liveness: ${liveness ? "ok" : "FAILED"}`);
    const factorials: FactorialResult[] = [];
    for (const n of options.factorials ?? range(13)) {
      const value = await driver.factorial(n);
      factorials.push({ n, value, expected: factorial32(n) });
    }
    log(`factorials: ${factorials.map((f) => `${f.n}!=${f.value}`).join(" ")}`);
    const data = pattern(options.dmaBytes ?? DMA_BUF_SIZE);
    const dma: DmaRoundTrip[] = [];
    for (const path of paths) dma.push(await dmaRoundTrip(driver, data, path));
    for (const d of dma)
      log(
        `DMA ${d.bytes} bytes via ${d.path}: crc32 0x${hex(d.sentCrc32, 8)} -> 0x${hex(d.returnedCrc32, 8)} ${d.ok ? "ok" : "MISMATCH"}`,
      );
    const timed = options.latencyIterations ?? 1000;
    const warmup = options.latencyWarmup ?? 2 * timed;
    for (let i = 0; i < warmup; i++) await device.read32(EDU_BAR, REG_ID);
    const barReadLatency = await measureLatency(timed, () => device.read32(EDU_BAR, REG_ID));
    const interrupts = driver.irqCounts;
    return {
      identity: id,
      irqMode: driver.irqMode,
      liveness,
      factorials,
      dma,
      interrupts,
      barReadLatency,
    };
  } finally {
    await driver.close().catch(() => {});
  }
}

const since = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e6;

/**
 * Starts an edu server in a separate process, drives it with EduDriver over the
 * vfio-user socket and reports what happened. The server process and its socket are
 * always cleaned up.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const started = process.hrtime.bigint();
  const { server, socket } = await ServerProcess.start({
    entry: SERVE_EDU_ENTRY,
    nodeArgs: options.serverNodeArgs,
    socketPath: options.socketPath,
  });
  try {
    options.log?.(`edu server pid ${server.pid} listening on ${server.path}`);
    const client = await VfioUserClient.fromSocket(socket, { name: "edu" });
    try {
      const result = await driveEdu(client.device, options, ["fd", "message"]);
      return {
        backend: "vfio-user",
        where: `server pid ${server.pid}, ${server.path}`,
        socketPath: server.path,
        serverPid: server.pid,
        ...result,
        durationMs: since(started),
      };
    } finally {
      await client.close();
    }
  } finally {
    socket.close();
    await server.stop();
  }
}

/**
 * The same driver on an edu model in this process, over the loopback backend: the
 * vfio-user protocol over an in-memory stream pair, no socket and no second process.
 */
export async function runLoopbackDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const started = process.hrtime.bigint();
  const { device } = instantiateBuiltinDevice("edu");
  const dev = await openLoopback(device);
  try {
    options.log?.("edu model in this process, over the loopback backend");
    const result = await driveEdu(dev, options, ["fd", "message"]);
    return {
      backend: "loopback",
      where: "in-process loopback",
      ...result,
      durationMs: since(started),
    };
  } finally {
    await dev.close();
    device.close();
  }
}

/**
 * The same driver on a real edu (QEMU's C model, in a guest) bound to vfio-pci,
 * through the kernel's /dev/vfio. QEMU 7.2's edu aborts the VM on a DMA that ends
 * exactly at the end of its buffer (an off-by-one in its range check), so the kernel
 * demo moves 2 KiB unless told otherwise.
 */
export async function runKernelDemo(
  address: string,
  options: DemoOptions = {},
): Promise<DemoReport> {
  const started = process.hrtime.bigint();
  const dev = await openKernelDevice(address);
  try {
    options.log?.(`${dev.name} through /dev/vfio (the kernel's vfio-pci)`);
    const result = await driveEdu(dev, { dmaBytes: 2048, ...options }, ["fd"]);
    return {
      backend: "kernel",
      where: `${dev.name} through /dev/vfio`,
      ...result,
      durationMs: since(started),
    };
  } finally {
    await dev.close();
  }
}

/** The report as a few human-readable lines. */
/** Whether every check of the demo passed: liveness, every factorial, every DMA round trip. */
export function demoSucceeded(r: DemoReport): boolean {
  return r.liveness && factorialsCorrect(r) && r.dma.every((d) => d.ok);
}

function factorialsCorrect(r: DemoReport): boolean {
  return r.factorials.every((f) => f.value === f.expected);
}

export function formatDemoReport(r: DemoReport): string {
  const id = r.identity;
  const facts = r.factorials.map(
    (f) => `${f.n}!=${f.value}${f.value === f.expected ? "" : ` (expected ${f.expected})`}`,
  );
  const irq = r.interrupts;
  const lat = r.barReadLatency;
  return [
    `edu ${hex(id.vendorId, 4)}:${hex(id.deviceId, 4)} rev 0x${hex(id.revision, 2)} v${id.major}.${id.minor} over ${r.backend} (${r.where})`,
    `interrupts: ${r.irqMode.toUpperCase()}; liveness ${r.liveness ? "ok" : "FAILED"}`,
    `factorials: ${facts.join(" ")}  [${factorialsCorrect(r) ? "all correct" : "WRONG"}]`,
    ...r.dma.map(
      (d) =>
        `DMA via ${d.path === "fd" ? "fd-backed buffer " : "DMA_READ/WRITE   "}: ${d.bytes} bytes RAM->device->RAM, ` +
        `crc32 0x${hex(d.sentCrc32, 8)} / 0x${hex(d.returnedCrc32, 8)} ${d.ok ? "ok" : "MISMATCH"}`,
    ),
    `interrupt counts: factorial ${irq.factorial}, dma ${irq.dma}, raised ${irq.raised}, spurious ${irq.spurious} ` +
      `(${irq.wakeups} wake-ups, ${irq.triggers} triggers)`,
    `BAR0 4-byte read: p50 ${lat.p50Us.toFixed(1)} us, p99 ${lat.p99Us.toFixed(1)} us over ${lat.iterations} reads after a warm-up (${Math.round(lat.opsPerSec)} ops/s)`,
    `total ${r.durationMs.toFixed(0)} ms`,
  ].join("\n");
}

/** n! in unsigned 32-bit arithmetic (the device's answer, computed independently). */
export function factorial32(n: number): number {
  let r = 1n;
  for (let k = 2n; k <= BigInt(n) && r !== 0n; k++) r = (r * k) & 0xffffffffn;
  return Number(r);
}

function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
