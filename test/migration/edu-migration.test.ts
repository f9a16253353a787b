/**
 * The acceptance test: edu, served by two separate processes, migrated by our
 * client in the middle of a factorial and a DMA with an interrupt pending; the driver
 * carries on against the destination and gets what an unmigrated run gets.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  Container,
  type DeviceHandle,
  type IrqVector,
  MigrationState,
  migrateDevice,
  VFIO_PCI_MSI_IRQ_INDEX,
  VfioUserClient,
} from "../../src/client/index.js";
import {
  DMA_BUF_ADDR,
  DMA_CMD_IRQ,
  DMA_CMD_START,
  DMA_CMD_TO_RAM,
  EDU_BAR,
  REG_DMA_CMD,
  REG_DMA_COUNT,
  REG_DMA_DST,
  REG_DMA_SRC,
  REG_FACTORIAL,
  REG_IRQ_RAISE,
  REG_IRQ_STATUS,
  REG_STATUS,
  STATUS_IRQ_FACTORIAL,
} from "../../src/drivers/edu/regs.js";
import { ServerProcess } from "../../src/harness/server-process.js";
import { pattern } from "../drivers/edu-helpers.js";

const ENTRY = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "serve-slow-edu.js");
const STATUS_COMPUTING = 0x1;
const SOFT_IRQ = 0x1000;
const LENGTH = 2048;

interface Endpoint {
  server: ServerProcess;
  client: VfioUserClient;
  device: DeviceHandle;
  msi: IrqVector;
}

async function endpoint(container: Container): Promise<Endpoint> {
  const { server, socket } = await ServerProcess.start({
    entry: ENTRY,
    args: ["--work-delay-ms", "300"],
  });
  const client = await VfioUserClient.fromSocket(socket, { name: "edu" });
  const device = client.device;
  await device.config.updateCommand(0x6, 0x400); // memory + bus master, INTx disable clear
  await container.attach(device);
  const [msi] = await device.irqs.enable(VFIO_PCI_MSI_IRQ_INDEX, { count: 1 });
  return { server, client, device, msi: msi! };
}

/** Starts a factorial and a RAM-to-device DMA, and raises an interrupt nobody acknowledges. */
async function startWork(d: DeviceHandle, iova: bigint): Promise<void> {
  await d.write32(EDU_BAR, REG_STATUS, STATUS_IRQ_FACTORIAL);
  await d.write64(EDU_BAR, REG_DMA_SRC, iova);
  await d.write64(EDU_BAR, REG_DMA_DST, BigInt(DMA_BUF_ADDR));
  await d.write64(EDU_BAR, REG_DMA_COUNT, BigInt(LENGTH));
  await d.write64(EDU_BAR, REG_DMA_CMD, BigInt(DMA_CMD_START | DMA_CMD_IRQ));
  await d.write32(EDU_BAR, REG_FACTORIAL, 10);
  await d.write32(EDU_BAR, REG_IRQ_RAISE, SOFT_IRQ);
}

/** Waits (on MSI) for the work to finish, copies the buffer back out, and reports. */
async function finishWork(e: Endpoint, outIova: bigint) {
  const d = e.device;
  const busy = async () =>
    ((await d.read32(EDU_BAR, REG_STATUS)) & STATUS_COMPUTING) !== 0 ||
    ((await d.read64(EDU_BAR, REG_DMA_CMD)) & BigInt(DMA_CMD_START)) !== 0n;
  while (await busy()) await e.msi.wait({ timeoutMs: 10_000 });
  const irqStatus = await d.read32(EDU_BAR, REG_IRQ_STATUS);
  await d.write64(EDU_BAR, REG_DMA_SRC, BigInt(DMA_BUF_ADDR));
  await d.write64(EDU_BAR, REG_DMA_DST, outIova);
  await d.write64(EDU_BAR, REG_DMA_COUNT, BigInt(LENGTH));
  await d.write64(EDU_BAR, REG_DMA_CMD, BigInt(DMA_CMD_START | DMA_CMD_TO_RAM));
  while ((await d.read64(EDU_BAR, REG_DMA_CMD)) & BigInt(DMA_CMD_START)) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return { factorial: await d.read32(EDU_BAR, REG_FACTORIAL), irqStatus };
}

describe("edu migrated between two server processes mid-computation", () => {
  const container = new Container();
  const endpoints: Endpoint[] = [];
  after(async () => {
    for (const e of endpoints) await e.client.close().catch(() => {});
    await container.close().catch(() => {});
    for (const e of endpoints) await e.server.stop();
  });

  let source: Endpoint;
  let destination: Endpoint;
  let reference: Endpoint;
  before(async () => {
    source = await endpoint(container);
    destination = await endpoint(container);
    reference = await endpoint(container);
    endpoints.push(source, destination, reference);
  });

  it("gives the unmigrated run's results, with the driver continuing on the destination", async (t) => {
    const input = await container.allocateBuffer(4096);
    const out = await container.allocateBuffer(4096);
    const refOut = await container.allocateBuffer(4096);
    input.bytes.set(pattern(LENGTH, 7));

    await startWork(reference.device, input.iova);
    const expected = await finishWork(reference, refOut.iova);
    assert.equal(expected.factorial, 3628800);
    assert.equal(expected.irqStatus, SOFT_IRQ | 0x100 | 0x1);
    assert.deepEqual(refOut.bytes.subarray(0, LENGTH), pattern(LENGTH, 7));

    await startWork(source.device, input.iova);
    const statusBefore = await source.device.read32(EDU_BAR, REG_STATUS);
    const report = await migrateDevice(source.device, destination.device);
    t.diagnostic(
      `migrated ${report.bytes} bytes, downtime ${report.downtimeMs.toFixed(2)} ms, total ${report.totalMs.toFixed(2)} ms`,
    );
    // The factorial was still running on the source when it was checked (300 ms of work).
    assert.equal(statusBefore & STATUS_COMPUTING, STATUS_COMPUTING);
    assert.equal(await source.device.migration.state(), MigrationState.STOP);
    await assert.rejects(source.device.read32(EDU_BAR, REG_STATUS), { code: "EBUSY" });

    const got = await finishWork(destination, out.iova);
    assert.deepEqual(got, expected);
    assert.deepEqual(out.bytes.subarray(0, LENGTH), refOut.bytes.subarray(0, LENGTH));
  });
});
