// A user-level driver for examples/counter-device.ts, written against the driver API.
// Run it with: node dist/examples/counter-driver.js /tmp/counter.sock
import {
  VFIO_PCI_BAR0_REGION_INDEX as BAR0,
  Container,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VfioUserClient,
} from "vfio-ts";

const client = await VfioUserClient.connect(process.argv[2] ?? "/tmp/counter.sock");
const dev = client.device;
const container = new Container();
try {
  await dev.config.enableMemory();
  await dev.config.enableBusMaster();
  console.log(`id register: 0x${(await dev.read32(BAR0, 0x0)).toString(16)}`);

  // Interrupts: MSI-X vector 0 arrives on an eventfd we created.
  const [vector0] = await dev.irqs.enable(VFIO_PCI_MSIX_IRQ_INDEX, { count: 1 });
  await dev.write32(BAR0, 0x8, 5);
  await vector0!.wait();
  console.log(`count after adding 5: ${await dev.read32(BAR0, 0x4)} (interrupt received)`);

  // DMA: a buffer in the device's IOVA space, shared by fd so the device reads it directly.
  await container.attach(dev);
  const buf = await container.allocateBuffer(4096);
  new BigUint64Array(buf.buffer, 0, 8).set([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]);
  await dev.write32(BAR0, 0xc, Number(buf.iova));
  console.log(`sum computed by the device over DMA: ${await dev.read32(BAR0, 0x10)}`);
} finally {
  await container.close();
  await client.close();
}
